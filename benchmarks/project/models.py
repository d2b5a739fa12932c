"""The database scenarios' table, made by ``benchmarks/database.py`` (not by migrations)."""

from __future__ import annotations

from django.db import models


class Item(models.Model):
    """One row per primary key 1..ROWS; every read is an index lookup."""

    id = models.IntegerField(primary_key=True)
    name = models.CharField(max_length=50)

    class Meta:
        managed = False
        db_table = "bench_item"

    def __str__(self) -> str:
        return self.name
