"""A tiny service built on the chassis, used to test the chassis itself and by bench/bus.py.

It owns ``items``; creating an item publishes ``demo.item_created`` through the outbox, and its
own consumer applies one ``effects`` row per event (no unique constraint: a second application
would show as a second row, which the tests look for).
"""
