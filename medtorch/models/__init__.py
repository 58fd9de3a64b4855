"""Networks (plain torch) and the Lightning module that trains them."""
