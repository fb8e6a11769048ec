"""Keep a crawl from being turned against the machine's own network.

A page on the public web can link (or redirect) to ``http://169.254.169.254/`` (the
cloud metadata service), ``http://10.0.0.1/admin`` or ``http://localhost:8080/``; a
public name can resolve to any of those too. Such an address is not fetched unless a
seed is already in the same class of address, or the user passes ``--allow-private``
(``LINKGRAPH_ALLOW_PRIVATE``).

The decision is taken on the *resolved* address, where no socket exists yet:

* names: :class:`linkgraph.crawl.middlewares.resolve.MappedResolver` asks :func:`check`
  with the address it is about to return, so what is checked is exactly what Twisted
  connects to (no second lookup an attacker's DNS could answer differently);
* IP literals and ``--resolve HOST=IP:PORT`` proxies, which Twisted connects to
  without asking the resolver: :class:`linkgraph.crawl.middlewares.private.PrivateAddressMiddleware`.

Why a process-wide guard: Scrapy builds the reactor's resolver with the
CrawlerProcess, not with a crawler, and the resolver is shared by the whole process,
so the policy it enforces is too. The spider registers its seeds on it
(:func:`register_seeds`); a seed given by a name that needs DNS allows the class of
whatever that name resolves to when it is first resolved.
"""

from __future__ import annotations

import ipaddress
import logging
import threading

from scrapy.exceptions import IgnoreRequest

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The classes of address that are not fetched by default, in the order tested.
CLASSES = ("unspecified", "loopback", "link-local", "multicast", "private", "reserved")

_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


class PrivateAddressError(IgnoreRequest):
    """A request whose host is (or resolves to) an address the crawl must not reach.

    An IgnoreRequest, so that no retry middleware retries it and the spider's errback
    records it (``error`` ``private_address: ...``).
    """


def address_class(ip: str | IPAddress) -> str | None:
    """The class of a non-public address (see :data:`CLASSES`), or None if public."""
    try:
        addr = ipaddress.ip_address(ip.strip("[]") if isinstance(ip, str) else ip)
    except ValueError:
        return "reserved"  # not an address at all: never connect to it
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        # ::ffff:10.0.0.1 reaches 10.0.0.1.
        addr = addr.ipv4_mapped
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    # Before is_global: 224.0.0.0/4 counts as global to the ipaddress module.
    if addr.is_multicast:
        return "multicast"
    if addr.is_global:
        return None
    if any(addr in net for net in _PRIVATE_NETS):
        return "private"
    # Carrier-grade NAT, documentation, benchmarking, 240/4, broadcast, ...
    return "reserved"


class AddressGuard:
    """Which address classes this crawl may reach; thread-safe (DNS runs in threads)."""

    def __init__(self) -> None:
        self.allow_private = False
        self.allowed: set[str] = set()
        self.seed_hosts: set[str] = set()
        self._logged: set[str] = set()
        #: host -> why it was refused. Twisted turns a resolver's exception into a
        #: bare "no results" DNSLookupError, so the reason is looked up here instead.
        self.refused: dict[str, str] = {}
        self._lock = threading.Lock()

    def reset(self, allow_private: bool) -> None:
        with self._lock:
            self.allow_private = allow_private
            self.allowed.clear()
            self.seed_hosts.clear()
            self._logged.clear()
            self.refused.clear()

    def add_seed(self, host: str, ip: str | None) -> None:
        """A seed on ``host``; ``ip`` is its address when known without DNS."""
        with self._lock:
            self.seed_hosts.add(host.lower().rstrip("."))
            cls = address_class(ip) if ip is not None else None
            if cls is not None:
                self.allowed.add(cls)

    def check(self, host: str, ip: str) -> None:
        """Raise :class:`PrivateAddressError` unless ``host`` may connect to ``ip``."""
        cls = address_class(ip)
        if cls is None or self.allow_private:
            return
        host = host.lower().rstrip(".")
        with self._lock:
            if host in self.seed_hosts:
                # A seed's own name: it is what the user asked for, and its class
                # becomes allowed for the links it leads to.
                self.allowed.add(cls)
                return
            if cls in self.allowed:
                return
            first = cls not in self._logged
            self._logged.add(cls)
        if first:  # once per class, not per link
            logger.warning("Not fetching %s addresses (first: %s at %s): no seed is in that "
                           "range; pass --allow-private to crawl them", cls, host, ip)
        shown = host if host == ip else f"{host} resolves to {ip}"
        message = f"{shown}, a {cls} address (pass --allow-private to fetch it)"
        self.refused[host] = message
        raise PrivateAddressError(message)

    def refusal(self, host: str | None) -> str | None:
        """Why ``host`` was refused, if it was."""
        return self.refused.get(host.lower().rstrip(".")) if host else None


#: The guard of this process (see the module docstring for why there is one).
GUARD = AddressGuard()


def register_seeds(hosts: list[tuple[str, str | None]], allow_private: bool) -> None:
    """Start a crawl's policy: ``(host, ip or None)`` of each seed."""
    GUARD.reset(allow_private)
    for host, ip in hosts:
        GUARD.add_seed(host, ip)
