"""The partitions definition every asset in the flow shares: one partition per client (tenant).

Keys are validated with :func:`forecast_assets.core.clients.validate_client_key` before they
reach a path, a query or a partition.
"""

from dagster import DynamicPartitionsDefinition

clients_partitions = DynamicPartitionsDefinition(name="clients")
