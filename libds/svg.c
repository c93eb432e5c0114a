// SPDX-License-Identifier: MIT
#include "svg.h"

#include <stdarg.h>

void ds_svg_begin(FILE *f, double width, double height, const char *title, const char *style)
{
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
		width, height, width, height);
	if (title) {
		fputs("<title>", f);
		ds_svg_escape(f, title);
		fputs("</title>\n", f);
	}
	if (style)
		fprintf(f, "<style>\n%s</style>\n", style);
}

void ds_svg_end(FILE *f)
{
	fputs("</svg>\n", f);
}

void ds_svg_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

void ds_svg_text(FILE *f, double x, double y, const char *cls, const char *anchor, const char *text)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
	if (cls)
		fprintf(f, " class=\"%s\"", cls);
	if (anchor)
		fprintf(f, " text-anchor=\"%s\"", anchor);
	fputc('>', f);
	ds_svg_escape(f, text);
	fputs("</text>\n", f);
}

void ds_svg_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!len)
		return;
	va_start(ap, fmt);
	if (vsnprintf(buf, len, fmt, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
}
