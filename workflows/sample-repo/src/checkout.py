"""Checkout: totals an order and charges the card."""

from orders import price


def total(items: dict[str, int]) -> float:
    return sum(price(sku) * quantity for sku, quantity in items.items())


def charge(card_token: str, amount: float) -> None:
    # TODO: retry on network errors
    print(f"charging {card_token} {amount:.2f}")
