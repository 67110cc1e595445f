"""Row 7: every address that is not globally routable is refused, the odd ranges included.

Before: 100.64.0.0/10 (shared address space, where 100.100.100.200 serves cloud metadata),
6to4 (2002::/16) and site-local (fec0::/10) addresses passed the guard.
"""

from __future__ import annotations

import pytest

from relay.adapters.safe_fetch import BlockedAddress, check_url

REFUSED = [
    "100.64.0.1", "100.100.100.200", "100.127.255.254", "[2002:7f00:1::1]", "[2002::1]", "[fec0::1]",
    "[::127.0.0.1]", "[64:ff9b::7f00:1]", "192.88.99.1", "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.0.1",
    "169.254.169.254", "[::1]", "[fe80::1]", "[fc00::1]", "0.0.0.0", "224.0.0.1", "[ff02::1]", "255.255.255.255",
    "198.18.0.1", "240.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:100.100.100.200]",
]  # fmt: skip


@pytest.mark.parametrize("address", REFUSED)
def test_an_address_that_is_not_global_is_refused(address: str) -> None:
    with pytest.raises(BlockedAddress, match=r"not a public internet address|private"):
        check_url(f"http://{address}/latest/meta-data/")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "[2606:4700::1111]", "[2a00:1450:4007:80f::200e]"])
def test_public_addresses_pass(address: str) -> None:
    check_url(f"http://{address}/")  # no exception: the address is public (an IP needs no DNS)
