-- /etc/prosody/conf.d/avatars.cfg.lua: lets `avatars xmpp` (deploy/avatars-xmpp.service)
-- join Prosody as the component avatars.example.org (XEP-0114), so that
-- alice@avatars.example.org answers with the avatar of alice@example.org.
--
-- Prosody listens for components on 127.0.0.1:5347 by default (component_ports and
-- component_interfaces change it, in the global part of prosody.cfg.lua, before its first
-- VirtualHost). Put the same secret here and in /etc/avatars/xmpp-secret:
--
--   openssl rand -hex 32 > /etc/avatars/xmpp-secret; chown root:avatars /etc/avatars/xmpp-secret; chmod 0640 /etc/avatars/xmpp-secret
--
-- then `systemctl restart prosody` (`prosodyctl restart` where no init system runs it): a
-- reload does not open the component port for a component Prosody did not have when it
-- started (the tests found `prosodyctl reload` leaving port 5347 closed). Users' own
-- avatars (--mirror-subscribers) need the "pep" and "vcard_legacy" modules on their
-- VirtualHost, which Debian's prosody.cfg.lua enables. The tests run Prosody with this very
-- file (crates/test-support/src/xmpp.rs), and Debian's own Prosody under systemd with it set
-- up as written here (crates/avatars-cli/tests/it/deploy_units.rs).

Component "avatars.example.org"
    component_secret = "the secret in /etc/avatars/xmpp-secret"
