#!/usr/bin/env python3
"""Opens a file in one process and reads it in another, the fd passed over a unix socket, N
times (for tests/bats/core.bats: a file opened in one container and read in another).
  fdpass.py send SOCKET PATH N   opens PATH N times, sending each fd as soon as it is open
  fdpass.py recv SOCKET N        reads each fd it gets from offset 0 and prints its first line
"""
import array
import os
import socket
import sys


def send(sock_path, path, n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    for _ in range(n):
        fd = os.open(path, os.O_RDONLY)
        s.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
        s.recv(1)  # read: the next open waits until this one was read
        os.close(fd)


def recv(sock_path, n):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    print("listening", flush=True, file=sys.stderr)
    c, _ = srv.accept()
    for _ in range(n):
        fds = array.array("i")
        _, anc, _, _ = c.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
        fds.frombytes(anc[0][2][: fds.itemsize])
        data = os.pread(fds[0], 65536, 0)
        os.close(fds[0])
        print(data.decode().splitlines()[0], flush=True)
        c.send(b"y")


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        recv(sys.argv[2], int(sys.argv[3]))
