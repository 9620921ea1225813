"""The deployment files, checked as far as this machine allows (Docker cannot run containers here,
there is no Kubernetes cluster and no helm binary; see docker/README.md):

- docker/compose.yaml against the Compose Specification's JSON schema (vendored), and with
  `docker compose config` where the compose plugin is installed;
- docker/helm/values.yaml against the Dagster chart's values schema (a vendored excerpt);
- the Kubernetes job dagster-k8s builds for the Chronos step: GPU limit, node selector, toleration;
- the instance configs (docker/dagster.yaml, dagster.postgres.yaml) through Dagster's own config
  validation, and a Postgres instance storing a run on the real server;
- the image's install steps against the README's (the Makefile's setup recipe).
"""

import copy
import importlib
import json
import os
import re
import secrets
import shutil
import subprocess

import jsonschema
import psycopg2
import pytest
import yaml
from dagster import DagsterInstance, asset, materialize
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job, get_user_defined_k8s_config

from forecast_assets.cli import INSTANCE_CONFIGS, prepare_dagster_home
from forecast_assets.definitions import build_definitions
from forecast_assets.defs.executors import run_executor
from forecast_assets.settings import REPO_ROOT, Settings
from forecast_assets.urls import postgres_parts

from .backends import SCRATCH, with_database

DOCKER = REPO_ROOT / "docker"
SERVICES = {"postgres", "webserver", "daemon", "code-location", "mlflow"}


def _yaml(path):
    return yaml.safe_load(path.read_text())


def test_compose_file_follows_the_compose_specification():
    compose = _yaml(DOCKER / "compose.yaml")
    schema = json.loads((DOCKER / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)
    services = compose["services"]
    assert set(services) == SERVICES
    # Every service but Postgres runs the project's image, built from docker/Dockerfile.
    for name in SERVICES - {"postgres"}:
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile", name
        assert services[name]["image"].startswith("forecast-assets:"), name
    # The webserver and daemon reach the code location where workspace.yaml says it listens.
    grpc = _yaml(DOCKER / "workspace.yaml")["load_from"][0]["grpc_server"]
    command = services["code-location"]["command"]
    assert grpc["host"] == "code-location" and command[command.index("-p") + 1] == str(grpc["port"])
    assert "-m" in command and command[command.index("-m") + 1] == "forecast_assets.definitions"
    for name in ("webserver", "daemon"):
        assert "/opt/forecast-assets/docker/workspace.yaml" in services[name]["command"]
    # Storage: Postgres for the instance, the warehouse and MLflow.
    env = services["code-location"]["environment"]
    assert env["WAREHOUSE_URL"].startswith("postgresql://") and env["DAGSTER_PG_HOST"] == "postgres"
    assert services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    # Every ${VARIABLE} has a default or is documented in env.example.
    text = (DOCKER / "compose.yaml").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (DOCKER / "env.example").read_text(), re.M))
    for variable, rest in re.findall(r"\$\{([A-Z_]+)([^}]*)\}", text):
        assert rest.startswith((":-", ":?")) or variable in documented, variable


def test_compose_config_renders_where_the_compose_plugin_exists(monkeypatch):
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed on this machine")
    for variable in (
        "POSTGRES_PASSWORD",
        "DAGSTER_DB_PASSWORD",
        "WAREHOUSE_DB_PASSWORD",
        "MLFLOW_DB_PASSWORD",
    ):
        monkeypatch.setenv(variable, "test-only")
    result = subprocess.run(
        [docker, "compose", "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_publishes_the_ui_and_mlflow_on_loopback_unless_the_operator_opts_in():
    services = _yaml(DOCKER / "compose.yaml")["services"]
    published = {name: service.get("ports", []) for name, service in services.items()}
    assert published["webserver"] == ["${BIND_ADDRESS:-127.0.0.1}:3000:3000"]
    assert published["mlflow"] == ["${BIND_ADDRESS:-127.0.0.1}:5000:5000"]
    assert {name for name, ports in published.items() if ports} == {"webserver", "mlflow"}
    assert re.search(r"^#\s*BIND_ADDRESS=127\.0\.0\.1$", (DOCKER / "env.example").read_text(), re.M)


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(e.split("=", 1) for e in env)


def _user(url: str) -> str:
    """The user of a compose URL, its ${...} interpolations replaced by a plain value."""
    return postgres_parts(re.sub(r"\$\{[^}]*\}", "x", url).replace("+psycopg2", ""))["user"]


def test_compose_services_use_their_own_roles_and_keep_secrets_off_command_lines():
    services = _yaml(DOCKER / "compose.yaml")["services"]
    roles = {
        "webserver": _environment(services["webserver"])["DAGSTER_PG_USER"],
        "daemon": _environment(services["daemon"])["DAGSTER_PG_USER"],
        "code-location": _environment(services["code-location"])["DAGSTER_PG_USER"],
        "warehouse": _user(_environment(services["code-location"])["WAREHOUSE_URL"]),
        "mlflow": _user(_environment(services["mlflow"])["MLFLOW_BACKEND_STORE_URI"]),
    }
    superuser = _environment(services["postgres"])["POSTGRES_USER"]
    assert roles == {
        "webserver": "dagster",
        "daemon": "dagster",
        "code-location": "dagster",
        "warehouse": "forecast",
        "mlflow": "mlflow",
    }
    assert superuser not in roles.values()
    # Each role has its own password variable; no service but postgres sees the superuser's.
    for name, service in services.items():
        values = " ".join(map(str, _environment(service).values()))
        assert ("POSTGRES_PASSWORD" in values) == (name == "postgres"), name
        # Nothing secret on a command line: no password variable, no URL with credentials.
        command = " ".join(map(str, service.get("command", [])))
        assert "PASSWORD" not in command and not re.search(r"://[^/\s]*:[^/\s]*@", command), name
    assert not any("--backend-store-uri" in str(a) for a in services["mlflow"]["command"])
    # The init script creates the three roles, each owning its own database, none privileged,
    # with passwords read from the environment inside psql (never on psql's command line).
    init = (DOCKER / "postgres-init" / "10-roles.sh").read_text()
    for role, database, variable in (
        ("dagster", "dagster", "DAGSTER_DB_PASSWORD"),
        ("forecast", "warehouse", "WAREHOUSE_DB_PASSWORD"),
        ("mlflow", "mlflow", "MLFLOW_DB_PASSWORD"),
    ):
        # Only the warehouse writer creates (consumer) roles; on Postgres 16 only its own.
        createrole = "createrole" if role == "forecast" else "nocreaterole"
        assert re.search(rf"create role {role} login nosuperuser nocreatedb {createrole}\b", init)
        assert f"create database {database} owner {role};" in init
        assert "\\getenv" in init and variable in init
        assert variable in _environment(services["postgres"])
    assert "revoke all on database dagster, warehouse, mlflow from public;" in init
    assert int(services["postgres"]["image"].split(":")[1]) >= 16
    assert "$" + "{" not in init.split("<<'SQL'", 1)[1]  # a quoted heredoc: nothing expanded into SQL


def test_the_postgres_init_script_gives_each_service_its_database_only(postgres_url, tmp_path):
    """The init script's SQL on the real server (roles and databases renamed with a random suffix,
    as roles are global): each role reaches its own database and no other, and is not privileged."""
    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    tag = secrets.token_hex(3)
    init = (DOCKER / "postgres-init" / "10-roles.sh").read_text()
    script = init.split("<<'SQL'\n", 1)[1].rsplit("SQL", 1)[0]
    names = {"dagster": f"d_{tag}", "forecast": f"f_{tag}", "mlflow": f"m_{tag}", "warehouse": f"w_{tag}"}
    for old, new in names.items():
        script = re.sub(rf"\b{old}\b", new, script)
    env = {"DAGSTER_DB_PASSWORD": "a1", "WAREHOUSE_DB_PASSWORD": "b2", "MLFLOW_DB_PASSWORD": "c3"}
    databases = {"dagster": names["dagster"], "forecast": names["warehouse"], "mlflow": names["mlflow"]}
    try:
        result = subprocess.run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", SCRATCH.admin_url],
            input=script,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        with psycopg2.connect(SCRATCH.admin_url) as con, con.cursor() as cur:
            for role in ("dagster", "forecast", "mlflow"):
                cur.execute(
                    "select rolsuper, rolcreaterole, rolcreatedb, left(rolpassword, 14) = 'SCRAM-SHA-256$' "
                    "from pg_authid where rolname = %s",
                    [names[role]],
                )
                assert cur.fetchone() == (False, role == "forecast", False, True), role
                for database in databases.values():
                    cur.execute("select has_database_privilege(%s, %s, 'CONNECT')", [names[role], database])
                    assert cur.fetchone()[0] is (database == databases[role]), (role, database)
        # And the role really connects to its own database.
        own = with_database(SCRATCH.admin_url, databases["forecast"]).replace(
            "postgres@", f"{names['forecast']}@"
        )
        psycopg2.connect(own).close()
    finally:
        admin = psycopg2.connect(SCRATCH.admin_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            for database in databases.values():
                cur.execute(f'drop database if exists "{database}" with (force)')
            for role in ("dagster", "forecast", "mlflow"):
                cur.execute(f'drop role if exists "{names[role]}"')
        admin.close()


def test_helm_mounts_the_landing_and_model_cache_volumes_everywhere():
    values = _yaml(DOCKER / "helm" / "values.yaml")
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    claims = {
        doc["metadata"]["name"]: doc["spec"]["accessModes"]
        for doc in yaml.safe_load_all((DOCKER / "helm" / "volumes.yaml").read_text())
    }
    assert claims == {
        "forecast-assets-landing": ["ReadWriteMany"],
        "forecast-assets-models": ["ReadWriteMany"],
    }
    env = {e["name"]: e["value"] for e in deployment["env"]}
    wanted = {"forecast-assets-landing": env["LANDING_DIR"], "forecast-assets-models": env["HF_HOME"]}
    # The code server (sensor) and the run pods, whose config the step pods inherit, all mount both.
    for pod in (deployment, launcher):
        by_name = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        mounted = {by_name[m["name"]]: m["mountPath"] for m in pod["volumeMounts"]}
        assert mounted == wanted
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_helm_has_the_same_run_limits_as_dagster_yaml():
    helm = _yaml(DOCKER / "helm" / "values.yaml")["concurrency"]["runs"]["tagConcurrencyLimits"]
    instance = _yaml(DOCKER / "dagster.yaml")["concurrency"]["runs"]["tag_concurrency_limits"]

    def per_client(limits):
        return {
            (limit["key"], limit["limit"])
            for limit in limits
            if isinstance(limit.get("value"), dict) and limit["value"].get("applyLimitPerUniqueValue")
        }

    assert per_client(helm) == per_client(instance)
    assert ("dagster/asset_partition_range_start", 1) in per_client(helm)
    assert ("dagster/partition", 1) in per_client(helm)


def _without_required(schema: dict) -> dict:
    """The chart's schema as it applies to an override file: Helm validates the override merged
    with the chart's own values.yaml, which supplies every required key, so required lists at the
    level of definitions are dropped (conditional ones, type -> config section, are kept)."""
    schema = copy.deepcopy(schema)
    schema.pop("required", None)
    for definition in schema["definitions"].values():
        definition.pop("required", None)
    return schema


@pytest.fixture(scope="module")
def helm_schema() -> dict:
    return _without_required(
        json.loads((DOCKER / "schemas" / "dagster-helm-values.excerpt.schema.json").read_text())
    )


def test_helm_values_match_the_dagster_charts_schema(helm_schema):
    values = _yaml(DOCKER / "helm" / "values.yaml")
    jsonschema.Draft7Validator(helm_schema).validate(values)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "forecast_assets.definitions"]
    assert {"name": "FORECAST_EXECUTOR", "value": "k8s"} in deployment["env"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    # The chart fails when run limits are set both on the run coordinator and under concurrency.
    assert not values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert values["concurrency"]["pools"]["defaultLimit"] == 1


@pytest.mark.parametrize(
    "path, value",
    [
        (["runLauncher", "config", "k8sRunLauncher", "envSecret"], []),  # typo of envSecrets
        (["runLauncher", "type"], "K8sLauncher"),
        (["concurrency", "pools", "default_limit"], 1),  # the chart spells it defaultLimit
        (["dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator", "maxRuns"], 3),
    ],
)
def test_the_helm_schema_check_catches_mistakes(helm_schema, path, value):
    values = _yaml(DOCKER / "helm" / "values.yaml")
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(helm_schema).validate(values)


def test_the_chronos_step_pod_gets_a_gpu_node_selector_and_toleration():
    defs = build_definitions(Settings.from_env())
    node = defs.resolve_assets_def("chronos_forecast").node_def
    user_config = get_user_defined_k8s_config(node.tags)
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(
            job_image="registry.example.com/forecast-assets:0.1.0-cu128", dagster_home="/opt/dagster/home"
        ),
        args=["dagster", "api", "execute_step"],
        job_name="dagster-step-chronos",
        user_defined_k8s_config=user_config,
    )
    pod = job.spec.template.spec
    assert pod.node_selector == {"nvidia.com/gpu.present": "true"}
    assert [(t.key, t.operator, t.effect) for t in pod.tolerations] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")
    ]
    assert pod.containers[0].resources.limits == {"nvidia.com/gpu": "1"}
    # No other step asks for a GPU.
    for other in ("baseline_forecast", "forecast_evaluation", "inventory_metrics"):
        assert "dagster-k8s/config" not in defs.resolve_assets_def(other).node_def.tags


def test_the_executor_follows_the_setting_and_needs_postgres_for_several_processes(tmp_path):
    def settings(warehouse_url: str, executor: str) -> Settings:
        return Settings(
            home=tmp_path,
            landing_dir=tmp_path,
            warehouse_url=warehouse_url,
            mlflow_tracking_uri="sqlite:///x.db",
            executor=executor,
        )

    assert run_executor(settings("postgresql://u@h/d", "k8s")).name == "k8s"
    assert run_executor(settings("postgresql://u@h/d", "multiprocess")).name == "multiprocess"
    assert run_executor(settings(f"duckdb:///{tmp_path}/w.duckdb", "in_process")).name == "in_process"
    with pytest.raises(ValueError, match="DuckDB warehouse admits one writing process"):
        run_executor(settings(f"duckdb:///{tmp_path}/w.duckdb", "k8s"))
    with pytest.raises(ValueError, match="FORECAST_EXECUTOR must be one of"):
        run_executor(settings("postgresql://u@h/d", "celery"))


PG_ENV = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "",
    "DAGSTER_PG_DB": "dagster",
}


@pytest.mark.parametrize(
    "config", [DOCKER / "dagster.yaml", INSTANCE_CONFIGS["postgres"], INSTANCE_CONFIGS["sqlite"]]
)
def test_instance_configs_pass_dagsters_validation(config, tmp_path, monkeypatch):
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    shutil.copy(config, tmp_path / "dagster.yaml")
    checked, _ = dagster_instance_config(str(tmp_path))
    for section in ("run_coordinator", "run_launcher", "compute_logs", "local_artifact_storage"):
        if section in checked:  # configurable classes: the module and class must exist
            module = importlib.import_module(checked[section]["module"])
            assert hasattr(module, checked[section]["class"]), section
    if config != INSTANCE_CONFIGS["sqlite"]:
        assert checked["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
        assert checked["storage"]["postgres"]["postgres_db"]["hostname"] == {"env": "DAGSTER_PG_HOST"}


def test_the_cli_writes_the_instance_config_the_environment_asks_for(tmp_path, monkeypatch):
    for name in PG_ENV:
        monkeypatch.delenv(name, raising=False)
    target = prepare_dagster_home(tmp_path)
    assert target.read_text() == INSTANCE_CONFIGS["sqlite"].read_text()
    monkeypatch.setenv("DAGSTER_PG_HOST", "db.internal")
    with pytest.raises(SystemExit, match="DAGSTER_PG_USER, DAGSTER_PG_DB"):
        prepare_dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_PG_USER", "dagster")
    monkeypatch.setenv("DAGSTER_PG_DB", "dagster")
    assert prepare_dagster_home(tmp_path).read_text() == INSTANCE_CONFIGS["postgres"].read_text()
    target.write_text("# edited by hand\n")
    assert prepare_dagster_home(tmp_path).read_text() == "# edited by hand\n"


def test_a_postgres_instance_stores_runs_on_the_server(postgres_url, tmp_path, monkeypatch):
    parts = postgres_parts(postgres_url)
    for name, key in (
        ("HOST", "host"),
        ("PORT", "port"),
        ("USER", "user"),
        ("PASSWORD", "password"),
        ("DB", "dbname"),
    ):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", parts[key])
    home = prepare_dagster_home(tmp_path).parent

    @asset
    def hello() -> int:
        return 1

    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = materialize([hello], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success


def test_the_image_installs_the_way_the_readme_does():
    makefile = (REPO_ROOT / "Makefile").read_text()
    dockerfile = (DOCKER / "Dockerfile").read_text()
    setup = makefile[makefile.index("$(STAMP): pyproject.toml") : makefile.index("touch $(STAMP)")]
    torch = re.search(r"pip install --quiet torch==([\d.]+)", setup).group(1)
    assert re.search(rf"^ARG TORCH_VERSION={re.escape(torch)}$", dockerfile, re.M)
    assert "ARG TORCH_VARIANT=cpu" in dockerfile
    assert (
        'pip install "torch==${TORCH_VERSION}" --index-url "https://download.pytorch.org/whl/${TORCH_VARIANT}"'
        in dockerfile
    )
    # Same order: torch, then the package (editable, so it finds dbt_project/), then dbt parse.
    steps = ["torch==", "pip install -e .", "dbt parse --profiles-dir . --quiet"]
    positions = [dockerfile.index(step) for step in steps]
    assert positions == sorted(positions)
    assert setup.index("torch==") < setup.index('install --quiet -e ".[dev]"') < setup.index("dbt parse")
    assert "dbt parse --profiles-dir . --quiet" in setup
    # The image's default command serves the module pyproject.toml names as the code location.
    assert "forecast_assets.definitions" in dockerfile.splitlines()[-1]
    assert 'module_name = "forecast_assets.definitions"' in (REPO_ROOT / "pyproject.toml").read_text()
