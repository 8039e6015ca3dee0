"""An XMPP user played by a real client library (slixmpp), driven line by line.

Usage: python xmpp_user.py HOST PORT JID PASSWORD

Reads commands on stdin, one per line:
    subscribe JID         ask for JID's presence
    unsubscribe JID       stop it
    publish-pep FILE      publish FILE as the XEP-0084 avatar (data, then metadata)
    publish-vcard FILE    set FILE as the vCard photo (XEP-0153 updates presence)
    quit
and writes what it sees on stdout as JSON, one object per line:
    {"kind": "online"}
    {"kind": "presence", "from": ..., "type": ..., "x_avatar": HEX|null, "photo": HEX|null}
    {"kind": "event", "from": ..., "node": ..., "id": ...}
    {"kind": "done", "command": ...}     after each command has been carried out
    {"kind": "error", "command": ..., "why": ...}

The test-support crate's `xmpp_user` module starts it in the project's venv
(scripts/ensure-xmpp-peers.sh) and reads these lines.
"""

import asyncio
import hashlib
import json
import sys
import threading

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_X_AVATAR = "jabber:x:avatar"
NS_VCARD_UPDATE = "vcard-temp:x:update"
NS_EVENT = "http://jabber.org/protocol/pubsub#event"


def say(**fields):
    print(json.dumps(fields), flush=True)


def image_type(data):
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/octet-stream"


class User(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        for plugin in ["xep_0030", "xep_0054", "xep_0060", "xep_0084", "xep_0115", "xep_0153", "xep_0163"]:
            self.register_plugin(plugin)
        self["feature_mechanisms"].unencrypted_plain = True
        self.auto_authorize = True
        self.auto_subscribe = True
        self.add_event_handler("session_start", self.on_start)
        self.register_handler(Callback("presence", MatchXPath("{jabber:client}presence"), self.on_presence))
        self.register_handler(
            Callback("event", MatchXPath("{jabber:client}message/{%s}event" % NS_EVENT), self.on_event)
        )

    async def on_start(self, _):
        self.send_presence()
        await self.get_roster()
        say(kind="online")

    def on_presence(self, presence):
        xml = presence.xml
        x = xml.find("{%s}x" % NS_X_AVATAR)
        hash_ = x.find("{%s}hash" % NS_X_AVATAR) if x is not None else None
        update = xml.find("{%s}x" % NS_VCARD_UPDATE)
        photo = update.find("{%s}photo" % NS_VCARD_UPDATE) if update is not None else None
        say(
            kind="presence",
            **{"from": str(presence["from"])},
            type=presence["type"],
            x_avatar=(hash_.text or "") if hash_ is not None else None,
            photo=(photo.text or "") if photo is not None else None,
        )

    def on_event(self, message):
        items = message.xml.find("{%s}event/{%s}items" % (NS_EVENT, NS_EVENT))
        item = items.find("{%s}item" % NS_EVENT) if items is not None else None
        say(
            kind="event",
            **{"from": str(message["from"])},
            node=items.get("node") if items is not None else None,
            id=item.get("id") if item is not None else None,
        )

    async def run_command(self, line):
        words = line.split()
        if not words:
            return
        command, args = words[0], words[1:]
        try:
            if command == "subscribe":
                self.send_presence(pto=args[0], ptype="subscribe")
            elif command == "unsubscribe":
                self.send_presence(pto=args[0], ptype="unsubscribe")
            elif command == "publish-pep":
                data = open(args[0], "rb").read()
                await self["xep_0084"].publish_avatar(data)
                await self["xep_0084"].publish_avatar_metadata(
                    [{"id": hashlib.sha1(data).hexdigest(), "type": image_type(data), "bytes": len(data)}]
                )
            elif command == "publish-vcard":
                data = open(args[0], "rb").read()
                vcard = self["xep_0054"].make_vcard()
                vcard["PHOTO"]["TYPE"] = image_type(data)
                vcard["PHOTO"]["BINVAL"] = data
                await self["xep_0054"].publish_vcard(vcard)
                # XEP-0153: once the vCard is stored, the client sends presence with the new
                # photo hash. Left to the server (ejabberd's mod_vcard_xupdate), that presence
                # raced the vCard's storage under load and carried the old hash.
                await self["xep_0153"].api["set_hash"](self.boundjid, args=hashlib.sha1(data).hexdigest())
                self.send_presence()
            elif command == "quit":
                self.disconnect()
            else:
                raise ValueError("unknown command")
            say(kind="done", command=command)
        except Exception as err:  # reported to the test, which fails with it
            say(kind="error", command=command, why=repr(err))


def main():
    host, port, jid, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    user = User(jid, password)
    loop = asyncio.get_event_loop()

    def read_commands():
        for line in sys.stdin:
            asyncio.run_coroutine_threadsafe(user.run_command(line.strip()), loop)
        loop.call_soon_threadsafe(user.disconnect)

    user.add_event_handler("failed_auth", lambda _: (say(kind="error", command="login", why="auth"), sys.exit(1)))
    user.add_event_handler("disconnected", lambda _: loop.stop())
    user.connect((host, port), force_starttls=False, disable_starttls=True)
    threading.Thread(target=read_commands, daemon=True).start()
    loop.run_forever()


if __name__ == "__main__":
    main()
