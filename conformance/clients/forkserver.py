"""Runs a Python adapter of this folder in a fresh process forked from one that has imported it,
so that each of the suite's draws costs a fork rather than importing the library again.

    python forkserver.py SOCKET ADAPTER.py                # serves until killed
    python -I -S forkserver.py --client SOCKET ARG...     # what --client-cmd runs per draw

The conformance suite runs its --client-cmd once per draw, a few hundred times per library. A
new Python process spends 0.1 s importing pyLibravatar's dnspython and 0.3 s importing Django
for django-avatar, before the lookup itself takes a millisecond; the suite's own tests judge four
Python libraries this way, which made them the longest test of the workspace.

The server imports the adapter (its top-level imports, then the modules its PRELOAD names) and
waits on a Unix socket. A client sends its arguments and its stdin, stdout and stderr; the server
forks a child, which takes those three as its own, runs the adapter's main(ARG...) and exits
with its status, which the client exits with too. The child starts where a new process running
the adapter would: the server has imported modules and looked nothing up, so no library has
anything cached, and each child's lookups are its own. Python reseeds the random module in a
forked child, as a new process seeds it, so the weighted choice between SRV records differs
from draw to draw as it would. A client that goes away (the suite's timeout) takes its child
with it.

The server runs one child at a time: the suite asks one draw after another. Start one server
per adapter and Python environment.
"""

import os
import sys

#: The most a request's arguments may take, in bytes.
REQUEST_LIMIT = 65536


def client(path, argv):
    """Asks the server at path to run the adapter with argv, on this process's stdin, stdout
    and stderr, and returns its exit status.

    It runs once per draw, so it imports _socket rather than socket, which takes longer to
    import than the rest of the client to run; socket.send_fds does what the sendmsg here does.
    """
    import _socket
    import array

    server = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        server.connect(path)
        request = b"\0".join(os.fsencode(word) for word in argv)
        fds = array.array("i", [0, 1, 2])
        server.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        reply = server.recv(64)
    except OSError as err:
        sys.exit(f"forkserver: no answer from the server at {path}: {err}")
    finally:
        server.close()
    if not reply:
        sys.exit(f"forkserver: the server at {path} closed without an exit status")
    status = int(reply)
    # A child killed by signal N exits as a shell reports it.
    return 128 - status if status < 0 else status


def load(adapter):
    """Imports the adapter file as a module, without running its main."""
    import importlib
    import importlib.util

    spec = importlib.util.spec_from_file_location("adapter", adapter)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in getattr(module, "PRELOAD", ()):
        importlib.import_module(name)
    return module


def run_child(module, adapter, argv, fds):
    """In the forked child: takes the client's stdin, stdout and stderr, runs main(argv) and
    exits with its status, as `python ADAPTER ARG...` would."""
    import traceback

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.argv = [adapter, *argv]
    status = 0
    try:
        module.main(argv)
    except SystemExit as exit:
        if exit.code is None or isinstance(exit.code, int):
            status = exit.code or 0
        else:
            print(exit.code, file=sys.stderr)
            status = 1
    except BaseException:  # noqa: BLE001: reported as Python reports it, status 1
        traceback.print_exc()
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def wait(pid, connection):
    """Waits for the child; kills it if the client goes away first. Returns its exit status,
    negative for a signal."""
    import select
    import signal

    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd, connection], [], [])
        if pidfd not in ready:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve(path, adapter):
    """Imports the adapter, then serves requests at path, one at a time, until killed."""
    import gc
    import socket

    module = load(adapter)
    # What the server has imported stays out of each child's garbage collections, which would
    # otherwise touch, and so copy, every page of it.
    gc.freeze()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
        listener.bind(path)
        listener.listen(16)
        print(f"forkserver: {adapter} at {path}", flush=True)
        while True:
            connection, _ = listener.accept()
            with connection:
                try:
                    request, fds, flags, _ = socket.recv_fds(connection, REQUEST_LIMIT, 3)
                except OSError as err:
                    print(f"forkserver: a request could not be read: {err}", file=sys.stderr)
                    continue
                if len(fds) != 3 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                    for fd in fds:
                        os.close(fd)
                    print(f"forkserver: refused a request: it must be at most {REQUEST_LIMIT}"
                          " bytes of arguments, with stdin, stdout and stderr", file=sys.stderr)
                    continue
                argv = [os.fsdecode(word) for word in request.split(b"\0")] if request else []
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    connection.close()
                    run_child(module, adapter, argv, fds)
                for fd in fds:
                    os.close(fd)
                status = wait(pid, connection)
                try:
                    connection.send(str(status).encode())
                except OSError:
                    pass  # the client is gone; its child was killed


def main(argv):
    if len(argv) >= 2 and argv[0] == "--client":
        sys.exit(client(argv[1], argv[2:]))
    if len(argv) != 2:
        sys.exit("usage: forkserver.py SOCKET ADAPTER.py | forkserver.py --client SOCKET ARG...")
    serve(*argv)


if __name__ == "__main__":
    main(sys.argv[1:])
