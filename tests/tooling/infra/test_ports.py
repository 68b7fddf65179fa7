import socket

from tooling.infra.ports import free_port, free_ports, port_is_open


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_port_is_open_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_is_open(sock.getsockname()[1])
    assert not port_is_open(free_port())


def test_free_ports_avoid_a_port_taken_on_a_non_loopback_address() -> None:
    """A port held on the wildcard address is never handed out (servers bind beyond loopback)."""
    with socket.socket() as held:
        held.bind(("", 0))
        held.listen()
        taken = held.getsockname()[1]
        assert taken not in free_ports(200)
