"""Keep a crawl from being turned against the machine's own network.

A page on the public web can link (or redirect) to ``http://169.254.169.254/`` (the
cloud metadata service), ``http://10.0.0.1/admin`` or ``http://localhost:8080/``; a
public name can resolve to any of those too. A non-public address is fetched only when
it is exactly the address of a seed, lies in a network the user names with
``--allow-address CIDR`` (``LINKGRAPH_ALLOW_ADDRESS``), or ``--allow-private``
(``LINKGRAPH_ALLOW_PRIVATE``) is given. A seed unlocks its own address, not its class:
a seed on 127.0.0.2 does not let any page reach 127.0.0.3, and a 192.168 seed does not
open 10/8. IPv6 addresses that carry an IPv4 address (IPv4-mapped and -compatible,
NAT64 ``64:ff9b::/96``, 6to4, Teredo) are judged by the IPv4 address they reach.

The decision is taken on the *resolved* address, where no socket exists yet:

* names: :class:`linkgraph.crawl.middlewares.resolve.MappedResolver` asks :func:`check`
  with the address it is about to return, so what is checked is exactly what Twisted
  connects to (no second lookup an attacker's DNS could answer differently);
* IP literals, ``--resolve HOST=IP:PORT`` proxies and targets sent through an
  ``http_proxy``/``https_proxy`` from the environment:
  :class:`linkgraph.crawl.middlewares.private.PrivateAddressMiddleware`;
* everything a rendering browser asks for: :mod:`linkgraph.render._guard_proxy`.

Why a process-wide guard: Scrapy builds the reactor's resolver with the
CrawlerProcess, not with a crawler, and the resolver is shared by the whole process,
so the policy it enforces is too. The spider registers its seeds on it
(:func:`register_seeds`); a seed given by a name that needs DNS unlocks the address it
resolves to the first time, and only that one: if the name later resolves to another
non-public address (DNS rebinding), that address is refused.
"""

from __future__ import annotations

import ipaddress
import logging
import threading

from scrapy.exceptions import IgnoreRequest

from linkgraph.errors import UsageError

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The classes of address that are not fetched by default, in the order tested.
CLASSES = ("unspecified", "loopback", "link-local", "multicast", "private", "reserved")

_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
#: IPv6 prefixes whose last 32 bits are an IPv4 address the packet is delivered to:
#: NAT64 (RFC 6052), IPv4-translated (SIIT, RFC 2765) and IPv4-compatible (deprecated,
#: but still routed by some stacks). IPv4-mapped, 6to4 and Teredo have properties.
_V4_IN_LAST_32 = tuple(ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "::ffff:0:0:0/96", "::/96"))


class PrivateAddressError(IgnoreRequest):
    """A request whose host is (or resolves to) an address the crawl must not reach.

    An IgnoreRequest, so that no retry middleware retries it and the spider's errback
    records it (``error`` ``private_address: ...``).
    """


def _parse(ip: str | IPAddress) -> IPAddress | None:
    try:
        return ipaddress.ip_address(ip.strip("[]") if isinstance(ip, str) else ip)
    except ValueError:
        return None


def reached_address(addr: IPAddress) -> IPAddress:
    """The address a packet to ``addr`` ends up at: the IPv4 one an IPv6 address carries.

    ``::ffff:10.0.0.1``, ``64:ff9b::a00:1`` (NAT64) and ``2002:a00:1::`` (6to4) all
    reach 10.0.0.1; ``::`` and ``::1`` are themselves.
    """
    if isinstance(addr, ipaddress.IPv4Address):
        return addr
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]  # the client, de-obfuscated
    packed = int(addr)
    if packed > 1 and any(addr in net for net in _V4_IN_LAST_32):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return addr


def address_class(ip: str | IPAddress) -> str | None:
    """The class of a non-public address (see :data:`CLASSES`), or None if public."""
    parsed = _parse(ip)
    if parsed is None:
        return "reserved"  # not an address at all: never connect to it
    addr = reached_address(parsed)
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


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def parse_networks(entries: list[str]) -> tuple[IPNetwork, ...]:
    """``--allow-address`` values (``10.0.0.0/8``, ``127.0.0.5``, ``fd00::/8``)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise UsageError(f"--allow-address takes an address or CIDR network "
                             f"(10.0.0.0/8, fd00::/8), got {entry!r}") from None
    return tuple(networks)


class AddressGuard:
    """Which non-public addresses this crawl may reach; thread-safe (DNS runs in threads)."""

    def __init__(self) -> None:
        self.allow_private = False
        #: Non-public addresses a seed is at (as :func:`reached_address` gives them).
        self.allowed: set[IPAddress] = set()
        self.networks: tuple[IPNetwork, ...] = ()
        #: Seed host -> the address it was first seen at (None: not resolved yet).
        self.seed_hosts: dict[str, IPAddress | None] = {}
        #: Hosts of proxies the user configured: connecting to them is the user's
        #: choice; what is checked is the target sent through them.
        self.proxy_hosts: set[str] = set()
        self._logged: set[str] = set()
        #: host -> why it was refused. Twisted turns a resolver's exception into a
        #: bare "no results" DNSLookupError, so the reason is looked up here instead.
        self.refused: dict[str, str] = {}
        self._lock = threading.Lock()

    def reset(self, allow_private: bool, networks: tuple[IPNetwork, ...] = (),
              proxy_hosts: tuple[str, ...] = ()) -> None:
        with self._lock:
            self.allow_private = allow_private
            self.networks = networks
            self.allowed.clear()
            self.seed_hosts.clear()
            self.proxy_hosts = {_norm(h) for h in proxy_hosts}
            self._logged.clear()
            self.refused.clear()

    def add_seed(self, host: str, ip: str | None) -> None:
        """A seed on ``host``; ``ip`` is its address when known without DNS."""
        addr = _parse(ip) if ip is not None else None
        with self._lock:
            self.seed_hosts[_norm(host)] = reached_address(addr) if addr is not None else None
            if addr is not None and address_class(addr) is not None:
                self.allowed.add(reached_address(addr))

    def _decide(self, host: str, ip: str, proxy_ok: bool) -> tuple[bool, str | None, str | None]:
        """(allowed, class, why not beyond the class) for ``host`` at ``ip``."""
        cls = address_class(ip)
        parsed = _parse(ip)
        addr = reached_address(parsed) if parsed is not None else None
        host = _norm(host)
        with self._lock:
            if addr is not None and host in self.seed_hosts and self.seed_hosts[host] is None:
                # A seed known by name: the address it resolves to first is what the
                # user asked for, and only that address is unlocked. A later answer
                # that differs (DNS rebinding) is judged like any other host's.
                self.seed_hosts[host] = addr
                if cls is not None:
                    self.allowed.add(addr)
            if cls is None or self.allow_private or (proxy_ok and host in self.proxy_hosts):
                return True, cls, None
            if addr is not None and (addr in self.allowed or any(
                    addr in net or parsed in net for net in self.networks)):
                return True, cls, None
            first = self.seed_hosts.get(host)
        if first is not None:
            return False, cls, f"the seed first resolved to {first}"
        return False, cls, None

    def check(self, host: str, ip: str, proxy_ok: bool = True) -> None:
        """Raise :class:`PrivateAddressError` unless ``host`` may connect to ``ip``.

        ``proxy_ok``: a connection to a configured proxy's host is allowed (the
        resolver, looking up the proxy's name). False where ``host`` is what a page
        asked for: a link to the proxy's own address is judged like any other.
        """
        allowed, cls, why = self._decide(host, ip, proxy_ok)
        if allowed:
            return
        host = _norm(host)
        with self._lock:
            first = cls not in self._logged
            self._logged.add(cls)  # type: ignore[arg-type]
        if first:  # once per class, not per link
            logger.warning("Not fetching %s addresses (first: %s at %s): no seed is at that "
                           "address; pass --allow-address CIDR or --allow-private to crawl them",
                           cls, host, ip)
        shown = host if host == _norm(ip) else f"{host} resolves to {ip}"
        hint = "pass --allow-address or --allow-private to fetch it"
        detail = f"; {why}" if why else ""
        message = f"{shown}, {_article(cls)} {cls} address{detail} ({hint})"  # type: ignore[arg-type]
        self.refused[host] = message
        raise PrivateAddressError(message)

    def refusal(self, host: str | None) -> str | None:
        """Why ``host`` was refused, if it was."""
        return self.refused.get(_norm(host)) if host else None


def _norm(host: str) -> str:
    return host.lower().strip("[]").rstrip(".")


#: The guard of this process (see the module docstring for why there is one).
GUARD = AddressGuard()


def register_seeds(hosts: list[tuple[str, str | None]], allow_private: bool,
                   networks: tuple[IPNetwork, ...] = (),
                   proxy_hosts: tuple[str, ...] = ()) -> None:
    """Start a crawl's policy: ``(host, ip or None)`` of each seed."""
    GUARD.reset(allow_private, networks, proxy_hosts)
    for host, ip in hosts:
        GUARD.add_seed(host, ip)
