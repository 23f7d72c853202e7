"""`BulkReceiveSocket.recv` keeps pynetdicom's contract: all requested bytes, in order, or what came before
the peer closed; and the listener's associations use it."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.transport import AssociationSocket

from bitewing.core.dicom.sockets import BulkReceiveSocket, use_bulk_receive


@pytest.fixture
def pair() -> Iterator[tuple[BulkReceiveSocket, socket.socket]]:
    ours, peer = socket.socketpair()
    assoc = Association(AE(), "acceptor")
    sock = AssociationSocket(assoc, client_socket=ours)
    assoc.set_socket(sock)
    use_bulk_receive(assoc)
    assert type(assoc.dul.socket) is BulkReceiveSocket
    yield assoc.dul.socket, peer
    ours.close()
    peer.close()


def _send_slowly(peer: socket.socket, data: bytes, piece: int) -> threading.Thread:
    def send() -> None:
        for start in range(0, len(data), piece):
            peer.sendall(data[start : start + piece])

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_reads_exactly_the_requested_bytes_across_many_partial_arrivals(
    pair: tuple[BulkReceiveSocket, socket.socket],
) -> None:
    sock, peer = pair
    first, second = os.urandom(3_000_001), os.urandom(10)
    sender = _send_slowly(peer, first + second, 65_537)
    assert sock.recv(len(first)) == first
    assert sock.recv(len(second)) == second
    sender.join()


def test_returns_what_arrived_before_the_peer_closed(pair: tuple[BulkReceiveSocket, socket.socket]) -> None:
    sock, peer = pair
    peer.sendall(b"partial PDU")
    peer.shutdown(socket.SHUT_WR)
    received = sock.recv(1_000)
    assert received == bytearray(b"partial PDU")
    assert isinstance(received, bytearray)
