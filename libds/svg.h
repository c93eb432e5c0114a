/* SPDX-License-Identifier: MIT */
/*
 * A very small SVG writer: the document frame and XML-escaped text, enough for the heat
 * maps ds-report draws. Everything goes to a caller's FILE; the document is self-contained
 * (no external style sheets, fonts or scripts).
 */
#ifndef DS_SVG_H
#define DS_SVG_H

#include <stdio.h>

/* <?xml?>, <svg> with width/height/viewBox, a <title> and a <style> block (NULL = none). */
void ds_svg_begin(FILE *f, double width, double height, const char *title, const char *style);
void ds_svg_end(FILE *f);
/* Write s with &, <, >, " and ' escaped (for text and attribute values alike). */
void ds_svg_escape(FILE *f, const char *s);
/* A <text> element: x, y, optional class and anchor, escaped content. */
void ds_svg_text(FILE *f, double x, double y, const char *cls, const char *anchor,
		 const char *text);
/* printf into a text buffer, for building labels; truncates, always terminates. */
__attribute__((format(printf, 3, 4))) void ds_svg_fmt(char *buf, size_t len, const char *fmt, ...);

#endif
