"""Facts read from a real DuckLake lake, and the `regionlab catalog` CLI end to end."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from catalog_testdata import FIXTURE_DOMAINS
from typer.testing import CliRunner

from catalog import urns
from catalog.lake_facts import facts_from_lake
from cli.catalog_cmd import app
from regionlab import lake

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def small_lake(var_dir):
    """Two published products, a load log, a quality history with a blocked run, a register."""
    con = lake.connect()
    try:
        persons = lake.publish(
            con,
            "population",
            "persons",
            "SELECT 'k' || i AS person_key, '0-4' AS age_band, "
            "CASE WHEN i < 3 THEN 'K' END AS sex FROM range(5) t(i)",
            extra_info={"run_id": "r1", "key_id": "00aa11bb22cc33dd"},
        )
        contacts = lake.publish(
            con,
            "patient_administration",
            "contacts",
            "SELECT 'c' || i AS contact_id, 'k1' AS person_key FROM range(3) t(i)",
            extra_info={"run_id": "r1", "key_id": "00aa11bb22cc33dd"},
        )
        con.execute("CREATE SCHEMA IF NOT EXISTS lake._regionlab")
        con.execute(
            "CREATE TABLE lake._regionlab.load_log (product VARCHAR, extract VARCHAR, "
            "sha256 VARCHAR, extract_date DATE, rows_read BIGINT, run_id VARCHAR, "
            "loaded_at TIMESTAMPTZ)"
        )
        con.execute(
            "INSERT INTO lake._regionlab.load_log VALUES "
            "('population/persons', 'p1.csv', 'x', DATE '2025-01-01', 5, 'r1', now()),"
            "('population/persons', 'p2.csv', 'y', DATE '2025-02-01', 5, 'r1', now()),"
            # an empty delivery is recorded (so it is not looked at again) but is no newer data
            "('population/persons', 'p3.csv', 'z', DATE '2025-03-01', 0, 'r2', now())"
        )
        con.execute(
            "CREATE TABLE lake._regionlab.quality_history (product VARCHAR, snapshot_id BIGINT, "
            'run_id VARCHAR, "check" VARCHAR, category VARCHAR, severity VARCHAR, status VARCHAR, '
            "unexpected_count BIGINT, element_count BIGINT, description VARCHAR, "
            "checked_at TIMESTAMPTZ)"
        )
        con.execute(
            "INSERT INTO lake._regionlab.quality_history VALUES "
            "('population/persons', NULL, 'r0', 'person_key_unique', 'conformance', 'blocking', "
            " 'failed', 2, 5, 'unik', TIMESTAMPTZ '2025-01-01 10:00:00+00'),"
            f"('population/persons', {persons}, 'r1', 'person_key_unique', 'conformance', "
            " 'blocking', 'passed', 0, 5, 'unik', TIMESTAMPTZ '2025-02-01 10:00:00+00')"
        )
        con.execute("CREATE SCHEMA IF NOT EXISTS lake.initiatives")
        con.execute(
            "CREATE TABLE lake.initiatives.initiatives AS SELECT 'INI-001' AS initiative_id, "
            "'Triage' AS name, 'AI' AS kind, 'drift' AS phase, 'Chef' AS owner, 'OUH' AS "
            "department, 'høj' AS ai_act_risk, 'population/persons;research/readmissions_30d' "
            "AS products, DATE '2024-01-01' AS started, 'Beskrivelse' AS description"
        )
    finally:
        con.close()
    return persons, contacts


def test_facts_from_lake(registry, small_lake):
    persons_snap, contacts_snap = small_lake
    facts = facts_from_lake(registry, now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    persons = facts.products["population/persons"]
    assert persons.snapshot_id == persons_snap and persons.row_count == 5
    assert persons.newest_extract == dt.date(2025, 2, 1)
    assert persons.key_id == "00aa11bb22cc33dd" and persons.run_id == "r1"
    assert facts.products["patient_administration/contacts"].row_count == 3
    # the profile: counts per published column the table has, never a value
    assert [(c.name, c.null_count, c.distinct_count) for c in persons.columns] == [
        ("person_key", 0, 5),
        ("age_band", 0, 1),
        ("sex", 2, 1),
    ]
    # aggregates for the quality label; the spec's retention column is not in this table
    assert facts.stats["population/persons"].individuals == 5
    assert facts.stats["population/persons"].coverage_end is None
    # the derived product is not in the lake, but inherits the key id of its upstream
    derived = facts.products["research/readmissions_30d"]
    assert derived.snapshot_id is None and derived.key_id == "00aa11bb22cc33dd"
    runs = {r.run_id: r for r in facts.runs}
    assert runs["r1"].status == "success"
    assert runs["r1"].products == ["patient_administration/contacts", "population/persons"]
    assert runs["r0"].status == "failure" and runs["r0"].products == ["population/persons"]
    history = facts.quality["population/persons"]
    assert [(q.run_id, q.results[0].status.value) for q in history] == [
        ("r0", "failed"),
        ("r1", "passed"),
    ]
    assert [i.products for i in facts.initiatives] == [
        ["population/persons", "research/readmissions_30d"]
    ]


def test_facts_without_a_lake(registry, var_dir):
    facts = facts_from_lake(registry)
    assert facts.products == {} and facts.runs == [] and facts.initiatives == []


def test_cli_emit_and_show(small_lake, var_dir, monkeypatch):
    monkeypatch.setenv("REGIONLAB_DOMAINS", str(FIXTURE_DOMAINS))
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["emit"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "dataset" in result.output and "application" in result.output
    emitted = json.loads((var_dir / "catalog" / "metadata.json").read_text())
    assert any(m["entityUrn"] == urns.application("INI-001") for m in emitted)
    assert (var_dir / "datahub" / "lite.duckdb").exists()
    shown = runner.invoke(
        app, ["show", "population/persons"], catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "person_key_unique" in shown.output and "SUCCESS" in shown.output
    assert "00aa11bb22cc33dd" in shown.output


def _commit(message: str, info: dict | None) -> None:
    """A snapshot with this commit info, as a lake of an older regionlab version wrote it."""
    con = lake.connect()
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE IF NOT EXISTS lake._regionlab.marker (i INTEGER)")
        con.execute("INSERT INTO lake._regionlab.marker VALUES (1)")
        extra = json.dumps(info) if info is not None else "not json"
        con.execute(
            "CALL lake.set_commit_message('regionlab', ?, extra_info => ?)", [message, extra]
        )
        con.execute("COMMIT")
    finally:
        con.close()


def test_every_kind_of_snapshot_keeps_the_catalogue_working(small_lake, var_dir, monkeypatch):
    """Issue 14: after one failed audit every `catalog emit` crashed with KeyError 'domain'.

    The lake gets one snapshot of each kind the platform writes (publish, blocked audit,
    labelled product, erasure, retention, schema changes) plus the blocked-audit snapshot
    older versions wrote; the facts and the emission survive all of them.
    """
    from regionlab.erasure import lake_delete
    from regionlab.results import CheckResult, Status
    from regionlab.spec import load_domains
    from regionlab.wap.engine import ProductRun, _record_failed_audit

    persons_snap, _ = small_lake
    registry = load_domains(FIXTURE_DOMAINS)
    blocked = ProductRun(product="population/persons", run_id="r-blocked")
    blocked.checks = [
        CheckResult(
            check="privacy_k_anonymity",
            category="privacy",
            severity="blocking",
            status=Status.failed,
        )
    ]
    con = lake.connect()
    try:
        _record_failed_audit(con, registry.product("population/persons"), blocked)
        lake.publish(
            con,
            "labels",
            "notes_entities",
            "SELECT 1 AS task_id",
            extra_info={"run_id": "labeling-1", "source_product": "clinical_notes/notes"},
        )
        with lake.write_lock(con):
            lake_delete.apply(
                con,
                [],
                message="retention",
                extra_info={"kind": "retention"},
                also=[("CREATE TABLE lake._regionlab.r (i INTEGER)", [])],
            )
    finally:
        con.close()
    _commit(
        "audit failed (older regionlab)",
        {"run_id": "r-old", "product": "population/persons", "audit": "failed"},
    )
    _commit("erasure", {"kind": "erasure", "run_id": "e1", "products": {"x/y": {}}})
    _commit("odd", {"product": 3, "domain": None, "run_id": "r-odd"})
    _commit("not json", None)

    con = lake.connect(read_only=True)
    kinds = [s.kind for s in lake.list_snapshots(con)]
    con.close()
    assert {"publish", "audit_failed", "retention", "erasure", "other"} <= set(kinds)

    facts = facts_from_lake(registry, now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    assert facts.products["population/persons"].snapshot_id == persons_snap
    runs = {r.run_id: r for r in facts.runs}
    assert runs["r1"].status == "success"
    assert runs["r-blocked"].status == "failure"  # from the quality history, not a publish
    assert "r-old" not in runs and "r-odd" not in runs and "e1" not in runs

    monkeypatch.setenv("REGIONLAB_DOMAINS", str(FIXTURE_DOMAINS))
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    result = CliRunner().invoke(app, ["emit"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _deliveries(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    """Delivery-log rows ``(product, extract, outcome, reason, message, checked_at)``."""
    from regionlab.platform.tables import DELIVERY_LOG

    con = lake.connect()
    try:
        for sql, params in DELIVERY_LOG.create_statements(con):
            con.execute(sql, params)
        for product, extract, outcome, reason, message, at in rows:
            con.execute(
                DELIVERY_LOG.insert,
                [
                    product,
                    extract,
                    "sha",
                    outcome,
                    reason,
                    message,
                    "r2",
                    dt.datetime.fromisoformat(at),
                ],
            )
    finally:
        con.close()


REJECTED = (
    "p3.csv: the header does not match the spec (missing column sex). Expected person_key, "
    "age_band, sex; found person_key, age_band. Ask the source for a corrected delivery"
)


def test_the_catalogue_shows_the_last_rejected_delivery(small_lake, registry, var_dir, monkeypatch):
    """Issue 16: a product whose newest delivery was rejected says so, value-free."""
    _deliveries(
        [
            ("population/persons", "p2.csv", "ok", "", "", "2025-02-01T10:00:00+00:00"),
            (
                "population/persons",
                "p3.csv",
                "rejected",
                "columns",
                REJECTED,
                "2025-03-01T10:00:00+00:00",
            ),
            # a rejection followed by a delivery that loaded: nothing to report
            (
                "patient_administration/contacts",
                "c1.csv",
                "rejected",
                "delimiter",
                "c1.csv: the delimiter is semicolon (';')",
                "2025-02-01T10:00:00+00:00",
            ),
            (
                "patient_administration/contacts",
                "c2.csv",
                "ok",
                "",
                "",
                "2025-02-02T10:00:00+00:00",
            ),
        ]  # fmt: skip
    )
    facts = facts_from_lake(registry, now=dt.datetime(2025, 3, 2, tzinfo=dt.UTC))
    assert facts.products["population/persons"].last_delivery_rejected == REJECTED
    assert facts.products["patient_administration/contacts"].last_delivery_rejected is None

    monkeypatch.setenv("REGIONLAB_DOMAINS", str(FIXTURE_DOMAINS))
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["emit"], catch_exceptions=False).exit_code == 0
    emitted = json.loads((var_dir / "catalog" / "metadata.json").read_text())
    custom = {
        m["entityUrn"]: m["aspect"]["json"].get("customProperties", {})
        for m in emitted
        if m.get("aspectName") == "datasetProperties"
    }
    persons = next(c for c in custom.values() if c.get("product_ref") == "population/persons")
    contacts = next(
        c for c in custom.values() if c.get("product_ref") == "patient_administration/contacts"
    )
    assert persons["last_delivery_rejected"] == REJECTED
    assert "last_delivery_rejected" not in contacts
    shown = runner.invoke(
        app, ["show", "population/persons"], catch_exceptions=False, env={"COLUMNS": "400"}
    )
    assert shown.exit_code == 0, shown.output
    assert "last delivery rejected" in shown.output
    assert "p3.csv: the header does not match the spec" in shown.output
    other = runner.invoke(
        app, ["show", "patient_administration/contacts"], catch_exceptions=False,
        env={"COLUMNS": "400"},
    )  # fmt: skip
    assert other.exit_code == 0 and "last delivery rejected" not in other.output

    # A message that looks like it quotes something is shortened to file and reason code.
    _deliveries(
        [("patient_administration/contacts", "c3.csv", "rejected", "delimiter",
          "c3.csv: the delimiter is semicolon (';'), the spec's format is comma",
          "2025-02-03T10:00:00+00:00")]
    )  # fmt: skip
    facts = facts_from_lake(registry, now=dt.datetime(2025, 3, 2, tzinfo=dt.UTC))
    assert facts.products["patient_administration/contacts"].last_delivery_rejected == (
        "c3.csv: delimiter"
    )


def _aggregates(registry) -> tuple[dict, dict]:
    facts = facts_from_lake(registry, now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    profiles = {ref: [c.model_dump() for c in p.columns] for ref, p in facts.products.items()}
    return profiles, {ref: s.model_dump() for ref, s in facts.stats.items()}


def test_table_aggregates_are_reread_only_where_the_table_changed(
    registry, small_lake, var_dir, monkeypatch
):
    """Remembered profiles and stats equal a full read after a publish, a delete, or nothing."""
    from catalog import lake_facts, table_aggregates

    store = var_dir / "catalog" / "table-aggregates.json"
    computed: list[str] = []
    profiles = lake_facts._column_profiles

    def counting(con, product):
        computed.append(product.ref)
        return profiles(con, product)

    monkeypatch.setattr(lake_facts, "_column_profiles", counting)

    def check_against_a_full_read() -> None:
        remembered = _aggregates(registry)
        kept = store.read_text()
        store.unlink()
        assert remembered == _aggregates(registry)
        store.write_text(kept)

    first = _aggregates(registry)
    assert sorted(computed) == ["patient_administration/contacts", "population/persons"]
    assert "person_key" not in store.read_text().replace('"person_key"', "")  # counts only
    computed.clear()
    assert _aggregates(registry) == first and computed == []  # nothing changed: no read
    con = lake.connect()
    try:
        lake.publish(
            con,
            "patient_administration",
            "contacts",
            "SELECT 'c' || i AS contact_id, 'k' || (i % 2) AS person_key FROM range(7) t(i)",
            extra_info={"run_id": "r3", "key_id": "00aa11bb22cc33dd"},
        )
    finally:
        con.close()
    computed.clear()
    again = _aggregates(registry)
    assert computed == ["patient_administration/contacts"]  # only the table that changed
    assert (
        again[0]["patient_administration/contacts"] != first[0]["patient_administration/contacts"]
    )
    check_against_a_full_read()
    con = lake.connect()
    try:  # a delete keeps the data file and writes a delete file: the state still changes
        con.execute("DELETE FROM lake.population.persons WHERE person_key = 'k4'")
    finally:
        con.close()
    computed.clear()
    after_delete = _aggregates(registry)
    assert computed == ["population/persons"]
    assert after_delete[1]["population/persons"]["individuals"] == 4
    check_against_a_full_read()
    assert table_aggregates.VERSION == 1


def test_an_aggregate_key_follows_the_specs_it_reads_and_the_year(
    registry, small_lake, monkeypatch
):
    """Stats of a product read the persons spec (how an age is computed) and today's year."""
    import datetime as real_dt
    import types

    from catalog import table_aggregates

    contacts = registry.products["patient_administration/contacts"]
    persons = registry.products["population/persons"]
    con = lake.connect(read_only=True)
    try:
        key = table_aggregates.TableAggregates(con, registry, None).key
        before = key(contacts, ["population/persons"])
        assert before is not None and before == key(contacts, ["population/persons"])
        edited = persons.model_copy(update={"description": persons.description + " (ændret)"})
        monkeypatch.setitem(registry.products, "population/persons", edited)
        assert key(contacts, ["population/persons"]) != before
        monkeypatch.setitem(registry.products, "population/persons", persons)
        assert key(contacts, ["population/persons"]) == before

        class NextYear(real_dt.date):
            @classmethod
            def today(cls) -> real_dt.date:
                return real_dt.date(real_dt.date.today().year + 1, 1, 1)

        monkeypatch.setattr(table_aggregates, "dt", types.SimpleNamespace(date=NextYear))
        assert key(contacts, ["population/persons"]) != before
    finally:
        con.close()
