"""faithful.tabular: the encoder fitted on the real table, and every error naming column, table and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from faithful.tabular import TableEncoder, TableError, encode_tables, min_max_scale, read_table


def _real() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [23, 35, 51, 46, 30],
            "job": ["nurse", "clerk", "nurse", "chef", "chef"],
            "income": [10.0, 20.0, 30.0, 40.0, 50.0],
            "code": [1, 2, 1, 3, 2],
        }
    )


def test_numeric_first_then_one_hot_over_reals_sorted_categories():
    real_x, synthetic_x, encoder = encode_tables(_real(), _real().iloc[[3, 0]][["income", "code", "job", "age"]])
    assert encoder.numeric_columns == ["age", "income", "code"]
    assert encoder.categorical_columns == ["job"]
    assert encoder.feature_names == ["age", "income", "code", "job_chef", "job_clerk", "job_nurse"]
    assert torch.equal(synthetic_x, real_x[[3, 0]])
    assert real_x[0].tolist() == [23.0, 10.0, 1.0, 0.0, 0.0, 1.0]


def test_declared_categorical_and_excluded_columns():
    _, _, encoder = encode_tables(_real(), _real(), categorical=["code"], exclude=["age"])
    assert encoder.feature_names == ["income", "job_chef", "job_clerk", "job_nurse", "code_1", "code_2", "code_3"]


def test_integer_and_float_codes_are_one_category():
    synthetic = _real().assign(code=[1.0, 2.0, 3.0, 1.0, 2.0])  # a synthesizer writing floats
    _, synthetic_x, _ = encode_tables(_real(), synthetic, categorical=["code"])
    assert synthetic_x[:, -3:].sum(dim=1).tolist() == [1.0] * 5


@pytest.mark.parametrize("scale", ["standard", "minmax"])
def test_scaling_is_fitted_on_real_and_leaves_one_hot_alone(scale):
    synthetic = _real().assign(income=[60.0, 0.0, 30.0, 30.0, 30.0])
    real_x, synthetic_x, _ = encode_tables(_real(), synthetic, scale=scale)
    income = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    if scale == "standard":
        expected = (np.array([60.0, 0.0, 30.0, 30.0, 30.0]) - income.mean()) / income.std()
    else:
        expected = (np.array([60.0, 0.0, 30.0, 30.0, 30.0]) - 10.0) / 40.0
    np.testing.assert_allclose(synthetic_x[:, 1].numpy(), expected, atol=1e-12)
    assert set(real_x[:, 3:].unique().tolist()) == {0.0, 1.0}


def test_min_max_scale_is_scikit_learns():
    from sklearn.preprocessing import MinMaxScaler

    gen = torch.Generator().manual_seed(0)
    real, synthetic = torch.randn(50, 3, generator=gen, dtype=torch.float64), torch.randn(20, 3, dtype=torch.float64)
    real[:, 2] = 4.0  # constant: shifted only
    scaler = MinMaxScaler().fit(real.numpy())
    scaled_real, scaled_synthetic = min_max_scale(real, synthetic)
    assert torch.equal(scaled_synthetic, torch.from_numpy(scaler.transform(synthetic.numpy())))
    assert torch.equal(scaled_real, torch.from_numpy(scaler.transform(real.numpy())))


def test_error_text_in_a_numeric_column_names_column_table_rows_and_values():
    synthetic = _real().astype({"income": object})
    synthetic.loc[[1, 3], "income"] = ["oops", "1.23kg"]
    with pytest.raises(
        TableError,
        match=r"column 'income' is numeric in the real table but the synthetic table "
        r"holds text in it \(index 1, 3: 'oops', '1.23kg'\)",
    ):
        encode_tables(_real(), synthetic)


def test_error_stray_text_in_the_real_table_is_not_a_hundred_categories(tmp_path):
    real = _real().astype({"income": object})
    real.loc[2, "income"] = "oops"
    real.to_csv(tmp_path / "real.csv", index=False)
    with pytest.raises(
        TableError,
        match=r"column 'income' of real file '.*real.csv' holds numbers and 1 text cells "
        r"\(data row 3 \(1-based, header excluded\): 'oops'\)",
    ):
        TableEncoder().fit(tmp_path / "real.csv")
    # Declared categorical, it is what the user asked for.
    assert TableEncoder(categorical=["income"]).fit(tmp_path / "real.csv").feature_names[-1] == "income_oops"


def test_error_unseen_category_or_ignore():
    synthetic = _real().assign(job=["nurse", "pilot", "chef", "pilot", "chef"])
    with pytest.raises(
        TableError,
        match=r"column 'job' of the synthetic table holds categories the real table does "
        r"not have \('pilot' in index 1, 3\)",
    ):
        encode_tables(_real(), synthetic)
    _, synthetic_x, _ = encode_tables(_real(), synthetic, unknown="ignore")
    assert synthetic_x[1, -3:].tolist() == [0.0, 0.0, 0.0]


def test_missing_values_error_drop_impute(tmp_path):
    synthetic = _real().astype({"job": object})
    synthetic.loc[1, "income"] = np.nan
    synthetic.loc[4, "job"] = None
    synthetic.to_csv(tmp_path / "synthetic.csv", index=False)
    with pytest.raises(
        TableError,
        match=r"synthetic file '.*synthetic.csv' has missing values in 2 of its 5 rows "
        r"\(data rows 2, 5 \(1-based, header excluded\); columns \['income', 'job'\]\)",
    ):
        encode_tables(_real(), tmp_path / "synthetic.csv")
    _, dropped, encoder = encode_tables(_real(), tmp_path / "synthetic.csv", missing="drop")
    assert dropped.shape[0] == 3 and encoder.kept_rows["synthetic"] == [0, 2, 3]
    _, imputed, _ = encode_tables(_real(), tmp_path / "synthetic.csv", missing="impute")
    assert imputed[1, 1].item() == 30.0  # REAL's median income
    assert imputed[4, 3:6].tolist() == [1.0, 0.0, 0.0]  # REAL's most frequent job (chef and nurse tie: first)


def test_error_infinite_values():
    synthetic = _real().assign(income=[1.0, np.inf, 2.0, 3.0, 4.0])
    with pytest.raises(TableError, match=r"column 'income' of the synthetic table holds infinite values \(index 1"):
        encode_tables(_real(), synthetic)


def test_error_columns_do_not_match():
    with pytest.raises(TableError, match=r"missing: \['code'\]; not in the real table: \['x'\]"):
        encode_tables(_real(), _real().rename(columns={"code": "x"}))
    with pytest.raises(TableError, match=r"column 'nope' was declared categorical, but the real table has no such"):
        encode_tables(_real(), _real(), categorical=["nope"])


def test_read_table_errors(tmp_path):
    with pytest.raises(TableError, match=r"real file '.*nope.csv' does not exist"):
        read_table(tmp_path / "nope.csv", role="real")
    (tmp_path / "x.tsv").write_text("a\n1\n")
    with pytest.raises(TableError, match=r"has the suffix '.tsv'"):
        read_table(tmp_path / "x.tsv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TableError, match=r"is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(TableError, match=r"has a header row but no data rows"):
        read_table(tmp_path / "header.csv")


def test_csv_and_parquet_read_the_same(tmp_path):
    pytest.importorskip("pyarrow")
    _real().to_csv(tmp_path / "real.csv", index=False)
    _real().to_parquet(tmp_path / "real.parquet")
    from_csv = TableEncoder().fit_transform(tmp_path / "real.csv")
    assert torch.equal(from_csv, TableEncoder().fit_transform(tmp_path / "real.parquet"))


def test_bad_options():
    with pytest.raises(ValueError, match=r"`scale` to be one of \('none', 'standard', 'minmax'\), but got 'z'"):
        TableEncoder(scale="z")
    with pytest.raises(RuntimeError, match=r"not fitted"):
        TableEncoder().transform(_real())
