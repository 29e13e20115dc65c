"""Order lookups for the shop API."""

import sqlite3

db = sqlite3.connect("shop.db")
price_cache: dict[str, float] = {}


def find_orders(email: str) -> list[tuple]:
    # TODO: paginate; a customer with thousands of orders loads them all
    query = f"SELECT id, total FROM orders WHERE email = '{email}'"
    return db.execute(query).fetchall()


def price(sku: str) -> float:
    if sku not in price_cache:
        price_cache[sku] = db.execute("SELECT price FROM skus WHERE sku = ?", (sku,)).fetchone()[0]
    return price_cache[sku]
