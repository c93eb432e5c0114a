#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# Write a tiny MaxMind DB for tests: mkmmdb.pl OUT.mmdb NETWORK=ASN,ORG,CC,CITY ...
# (the GeoLite2 ASN and City keys in one file).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my %types = (
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
	country                        => 'map',
	iso_code                       => 'utf8_string',
	city                           => 'map',
	names                          => 'map',
	en                             => 'utf8_string',
);
my $out = shift @ARGV or die "usage: mkmmdb.pl OUT NETWORK=ASN,ORG,CC,CITY...\n";
my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version               => 6,
	record_size              => 24,
	database_type            => 'datastun-test',
	languages                => ['en'],
	description              => { en => 'datastun test database' },
	remove_reserved_networks => 0,
	alias_ipv6_to_ipv4       => 1,
	map_key_type_callback    => sub { $types{ $_[0] } },
);
for my $arg (@ARGV) {
	my ($net, $rest) = split /=/, $arg, 2;
	my ($asn, $org, $cc, $city) = split /,/, $rest, 4;
	my %rec = (autonomous_system_number => $asn + 0, autonomous_system_organization => $org);
	$rec{country} = { iso_code => $cc } if $cc;
	$rec{city} = { names => { en => $city } } if $city;
	$tree->insert_network($net, \%rec);
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh;
