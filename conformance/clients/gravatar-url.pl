# Gravatar::URL (CPAN; Debian's libgravatar-url-perl), pointed at a server through its `base`.
#
#     perl gravatar-url.pl URL SIZE DEFAULT IDENTITY...
#
# Prints the URL `gravatar_url` builds for each identity, with `base` URL (the server's
# /avatar/), `size` SIZE and `default` DEFAULT, on a line of its own.
use strict;
use warnings;
use Gravatar::URL qw(gravatar_url);

my ($base, $size, $default, @identities) = @ARGV;
die "usage: perl gravatar-url.pl URL SIZE DEFAULT IDENTITY...\n" unless @identities;
$| = 1;
for my $identity (@identities) {
    print gravatar_url(email => $identity, base => $base, size => $size, default => $default), "\n";
}
