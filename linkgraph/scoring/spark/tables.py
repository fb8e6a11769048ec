"""Score tables out of Spark: the files the local engine writes, with its schema.

Spark writes a sorted table as part files, one per range of the sort, in order. On a
local path (local mode, or a cluster whose workers share the driver's filesystem) the
parts are then joined into the single ``scores/<table>.parquet`` the local engine
writes: read one row group at a time, cast to :data:`linkgraph.scoring._write.
COLUMN_TYPES`, encoded with the local writer's per-column options and renamed into
place atomically, so the driver holds one row group, never the table. On a cluster
URL (``hdfs://``, ``s3a://``) the table stays Spark's folder of parts.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph.scoring._write import COLUMN_TYPES, SLICE_ROWS, _options

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


def arrow_type(spark_type: object) -> pa.DataType:
    """The Arrow type of a node column's Spark type (integers keep their width)."""
    from pyspark.sql import types as T

    return {T.ByteType: pa.int8(), T.ShortType: pa.int16(), T.IntegerType: pa.int32(),
            T.LongType: pa.int64()}.get(type(spark_type), pa.string())


def write_scores(table: DataFrame, out: str, *, node_type: pa.DataType | None = None,
                 metadata: dict[bytes, bytes] | None = None) -> str:
    """Write the sorted ``table`` to ``out``: one Parquet file with the local engine's
    schema on a local path, a folder of Spark parts on a cluster URL. Returns ``out``."""
    if "://" in out:
        table.write.mode("overwrite").parquet(out)
        return out
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.parts")
    tmp = path.with_name(f".{path.name}.tmp")
    schema = pa.schema([pa.field(name, COLUMN_TYPES.get(name, node_type or pa.string()))
                        for name in table.columns], metadata=metadata)
    try:
        table.write.mode("overwrite").parquet(str(staging))
        parts = sorted(p for p in staging.iterdir()
                       if p.name.endswith(".parquet") and not p.name.startswith((".", "_")))
        with pq.ParquetWriter(tmp, schema, **_options(schema)) as writer:
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=SLICE_ROWS):
                    writer.write_table(pa.Table.from_batches([batch]).select(
                        schema.names).cast(schema), row_group_size=SLICE_ROWS)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return str(path)
