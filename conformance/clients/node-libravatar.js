// The npm `libravatar` as a discovery client for the conformance suite's --client-cmd.
//
//   avatar-conformance --group libravatar-discovery --client-cmd \
//     'node node-libravatar.js --library=DIR {nameserver} {scheme} --size={size} --default={default} {identity} {again}'
//
// `--library=DIR` is where the package is (for example NODE_MODULES/libravatar); without it,
// `require('libravatar')` finds it as usual. Each identity given is looked up in this one
// process, with get_avatar_url() as an application calls it, and its URL printed on a line of
// its own. An identity with "://" in it is an OpenID. Only the nameserver is set here
// (dns.setServers, which the library's dns.resolveSrv uses), nothing of the library's own
// behaviour.
'use strict';

const dns = require('dns');

const main = async argv => {
  let library = 'libravatar';
  if (argv.length > 0 && argv[0].startsWith('--library=')) {
    library = argv.shift().slice('--library='.length);
  }
  if (argv.length < 3) {
    throw new Error(
      'usage: node-libravatar.js [--library=DIR] NAMESERVER SCHEME [--size=N] [--default=D] IDENTITY...'
    );
  }
  const [nameserver, scheme, ...rest] = argv;
  const options = {};
  const identities = [];
  for (const word of rest) {
    if (word.startsWith('--size=')) options.size = word.slice('--size='.length);
    else if (word.startsWith('--default=')) options.default = word.slice('--default='.length);
    else identities.push(word);
  }
  const libravatar = require(library);
  dns.setServers([nameserver]);
  for (const identity of identities) {
    const kind = identity.includes('://') ? 'openid' : 'email';
    const url = await libravatar.get_avatar_url({ ...options, [kind]: identity, https: scheme === 'https' });
    console.log(url);
  }
};

main(process.argv.slice(2)).catch(error => {
  console.error(error.message);
  process.exit(1);
});
