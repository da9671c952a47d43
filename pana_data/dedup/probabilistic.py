"""Probabilistic linkage with Splink 5 on DuckDB (Fellegi-Sunter, EM training, capped blocking).

The model is trained once per workspace and saved as JSON; later runs reuse it, so scores (and so
actor ids) do not move because of retraining. Comparisons: one name comparison, ONE combined
location comparison (INSEE code and distance, postcode, distance), and exact identifiers and
contacts. Same SIREN with a different SIRET is no evidence: only the SIRET is compared.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

# Capped blocking keys built by features.build_features.
BLOCKING_KEYS = (
    "bk_siret",
    "bk_rna",
    "bk_pc_tok1",
    "bk_pc_tok2",
    "bk_insee_name",
    "bk_phone",
    "bk_email",
    "bk_website",
)
SCORES_TABLE = "match_scores"
WORK_SCHEMA = "splink_work"

_DISTANCE_KM = (
    "111.32 * sqrt(power(latitude_l - latitude_r, 2) + "
    "power(cos(radians((latitude_l + latitude_r) / 2)) * (longitude_l - longitude_r), 2))"
)


def location_comparison() -> cl.CustomComparison:
    """One comparison for where the actor is, never three correlated ones."""
    return cl.CustomComparison(
        output_column_name="location",
        comparison_description="INSEE code and distance / postcode / distance",
        comparison_levels=[
            cll.CustomLevel(
                "(latitude_l IS NULL OR latitude_r IS NULL) "
                "AND (postcode_l IS NULL OR postcode_r IS NULL) "
                "AND (code_insee_l IS NULL OR code_insee_r IS NULL)",
                label_for_charts="no location",
            ).configure(is_null_level=True),
            cll.CustomLevel(
                f"code_insee_l = code_insee_r AND {_DISTANCE_KM} < 0.3",
                label_for_charts="same commune, < 300 m",
            ),
            cll.CustomLevel(
                "postcode_l = postcode_r OR code_insee_l = code_insee_r",
                label_for_charts="same postcode or commune",
            ),
            cll.CustomLevel(f"{_DISTANCE_KM} < 2", label_for_charts="< 2 km"),
            cll.ElseLevel(),
        ],
    )


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        blocking_rules_to_generate_predictions=[block_on(key) for key in BLOCKING_KEYS],
        comparisons=[
            cl.JaroWinklerAtThresholds("name_norm", [0.95, 0.88, 0.8]),
            location_comparison(),
            cl.JaroWinklerAtThresholds("address_norm", [0.92]),
            cl.ExactMatch("siret"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("email"),
            cl.ExactMatch("website"),
        ],
        additional_columns_to_retain=["source_id"],
        retain_intermediate_calculation_columns=False,
    )


def _linker(con: duckdb.DuckDBPyConnection, model: SettingsCreator | Path) -> Linker:
    api = DuckDBAPI(connection=con, output_schema=WORK_SCHEMA)
    source = str(model) if isinstance(model, Path) else model
    return Linker(api.register("match_features"), source, log_level=logging.ERROR)


def train(con: duckdb.DuckDBPyConnection, model_path: Path, seed: int = 7) -> None:
    """Estimate u by random sampling and m by EM on two blocking rules; save the model."""
    linker = _linker(con, settings())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("siret"), block_on("name_norm", "postcode")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode", "substr(name_norm, 1, 4)")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    linker.misc.save_model_to_json(str(model_path), overwrite=True)
    linker.table_management.delete_tables_created_by_splink_from_db()


def score_pairs(
    con: duckdb.DuckDBPyConnection, model_path: Path, threshold: float
) -> dict[str, int]:
    """Write ``match_scores`` (uid_l, uid_r, match_probability, gamma_*) for pairs at or above
    ``threshold``; return comparisons per blocking rule."""
    linker = _linker(con, model_path)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    con.execute(
        f"CREATE OR REPLACE TABLE {SCORES_TABLE} AS "
        f"SELECT uid_l, uid_r, match_probability, gamma_name_norm, gamma_location, "
        f"gamma_address_norm, gamma_siret, gamma_phone, gamma_email, gamma_website "
        f"FROM {predictions.physical_name}"
    )
    linker.table_management.delete_tables_created_by_splink_from_db()
    return comparisons_per_rule(con)


def comparisons_per_rule(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Pairs each capped blocking key generates (before pairs found by several rules are
    counted once): one GROUP BY per key, linear in the records."""
    counts = {}
    for key in BLOCKING_KEYS:
        rows = con.execute(
            f"SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM "
            f"(SELECT count(*) AS n FROM match_features WHERE {key} IS NOT NULL GROUP BY {key})"
        ).fetchall()
        counts[key] = int(rows[0][0])
    return counts
