"""Inventory: the replenishment policy computed from the champion's forecast distribution."""
