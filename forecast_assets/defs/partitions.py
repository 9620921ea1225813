"""The partitions definition every asset in the flow shares: one partition per client (tenant),
and the one backfill policy every asset declares.

Keys are validated with :func:`forecast_assets.core.clients.validate_client_key` before they
reach a path, a query or a partition.
"""

from dagster import BackfillPolicy, DynamicPartitionsDefinition

clients_partitions = DynamicPartitionsDefinition(name="clients")

# One backfill policy across the graph, declared on every asset: an asset backfill runs an asset
# together with its parents only when their policies match, so with one policy a backfill of N
# clients is N runs of the whole graph, not a run per layer and client. (``@dbt_assets`` would
# default to a single run only for time partitions, so the dbt assets need it spelled out too.)
ONE_CLIENT_PER_RUN = BackfillPolicy.multi_run(1)
