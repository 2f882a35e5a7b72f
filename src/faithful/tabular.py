"""Tables to matrices: read with pandas, encode with scikit-learn, fitted on the real table only.

The metrics compare points in :math:`\\mathbb{R}^d`; a table of mixed columns becomes such points through
an encoder **fitted on the real table** and applied unchanged to the synthetic one, so both live in the
same space and nothing about the synthetic table moves the yardstick:

- numeric columns are kept as they are, standardised (``scale="standard"``) or min-max scaled
  (``scale="minmax"``), with statistics of the real table;
- categorical columns are one-hot encoded by scikit-learn's ``OneHotEncoder`` over the real table's
  categories. A column is categorical when declared so (``categorical=[...]``) or when its dtype **in the
  real table** is not numeric (text, ``category``, ``bool``); the synthetic table never decides.

Everything that would otherwise be decided silently is an error with the column, the table and the first
offending rows and values, or an explicit option: a text cell in a numeric column (``'oops'``,
``'1.23kg'``), a column of numbers with a few text cells in the real table, categories the real table does
not have (``unknown="ignore"`` encodes them as all zeros), missing values (``missing="drop"`` or
``"impute"``), infinities, columns that do not match.

This module is a leaf: it turns tables into tensors for the functional core (which never imports pandas).
CSV is read with :func:`pandas.read_csv`, parquet with :func:`pandas.read_parquet` when pyarrow is installed
(``pip install "lightning-faithful[parquet]"``).

Example:
    >>> import pandas as pd
    >>> from faithful.tabular import TableEncoder
    >>> real = pd.DataFrame({"age": [23, 35, 51, 46], "job": ["nurse", "clerk", "nurse", "chef"]})
    >>> synthetic = pd.DataFrame({"job": ["chef", "nurse"], "age": [30, 44]})
    >>> encoder = TableEncoder(scale="minmax").fit(real)
    >>> encoder.feature_names
    ['age', 'job_chef', 'job_clerk', 'job_nurse']
    >>> encoder.transform(synthetic, role="synthetic")
    tensor([[0.2500, 1.0000, 0.0000, 0.0000],
            [0.7500, 0.0000, 0.0000, 1.0000]], dtype=torch.float64)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MISSING_OPTIONS",
    "SCALE_OPTIONS",
    "TABLE_SUFFIXES",
    "UNKNOWN_OPTIONS",
    "TableEncoder",
    "TableError",
    "encode_tables",
    "min_max_scale",
    "read_table",
]

log = logging.getLogger(__name__)

#: File suffixes :func:`read_table` reads.
TABLE_SUFFIXES = (".csv", ".parquet")
#: ``scale``: how numeric columns are scaled (statistics of the real table).
SCALE_OPTIONS = ("none", "standard", "minmax")
#: ``unknown``: what a synthetic category the real table does not have becomes.
UNKNOWN_OPTIONS = ("error", "ignore")
#: ``missing``: what a row with a missing value becomes.
MISSING_OPTIONS = ("error", "drop", "impute")
#: How many offending rows and values an error message shows.
_SHOWN = 5
#: An inferred categorical column of the real table whose non-missing cells are mostly numbers is taken for a
#: numeric column with stray text ('oops', '1.23kg'), not for hundreds of categories: an error asks which it is.
_MOSTLY_NUMERIC = 0.5
#: ``DataFrame.attrs`` key where :func:`read_table` records the file a table came from.
_SOURCE = "faithful_source"


class TableError(ValueError):
    """A table that cannot be encoded as asked; the message names the column, the table and the rows."""


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def read_table(source: str | Path | pd.DataFrame, *, role: str = "table") -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame (returned as is), a ``.csv`` file or a ``.parquet`` file.

    CSV cells are stripped of surrounding blanks and read with pandas' default missing-value markers
    (empty, ``NA``, ``NaN``, ``null``, ``None``, ...). The file's path is kept in ``frame.attrs`` so that
    the encoder's messages name the file and its 1-based data rows.

    Args:
        source: a DataFrame, or the path of a ``.csv`` or ``.parquet`` file.
        role: what the table is (``"real"``, ``"synthetic"``), for the messages.

    Raises:
        TableError: if the file does not exist, has another suffix, cannot be parsed, or holds no rows or
            no columns; if parquet is asked for without pyarrow.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"Expected argument `{role}` to be a pandas DataFrame or the path of a .csv or .parquet file, "
            f"but got {type(source).__name__}."
        )
    path = Path(source)
    where = f"{role} file '{path}'"
    if not path.is_file():
        raise TableError(f"{where} does not exist" if not path.exists() else f"{where} is not a file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise TableError(f"{where} has the suffix {path.suffix or '(none)'!r}; expected one of {TABLE_SUFFIXES}")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401  (pandas' parquet engine)
        except ImportError:
            raise TableError(
                f"reading the parquet {where} needs pyarrow: pip install 'lightning-faithful[parquet]'"
            ) from None
        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises its own error types
            raise TableError(f"cannot read {where} as parquet: {_first_line(err)}") from None
    else:
        try:
            frame = pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")
        except pd.errors.EmptyDataError:
            raise TableError(f"{where} is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
            raise TableError(f"cannot read {where} as CSV: {_first_line(err)}") from None
        frame = _strip_text(frame)
    if frame.shape[1] == 0:
        raise TableError(f"{where} has no columns")
    if frame.shape[0] == 0:
        raise TableError(f"{where} has a header row but no data rows")
    unnamed = [str(name) for name in frame.columns if str(name).startswith("Unnamed: ")]
    if unnamed and suffix == ".csv":
        raise TableError(f"{where} has columns without a name in its header row ({', '.join(unnamed)})")
    frame.attrs[_SOURCE] = str(path)
    return frame


def _strip_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip blanks around text cells (``' Male'`` and ``'Male'`` are one category); numbers are untouched."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            frame[name] = column.map(lambda cell: cell.strip() if isinstance(cell, str) else cell)
    return frame


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


# --------------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------------


def _describe(frame: pd.DataFrame, role: str) -> str:
    source = frame.attrs.get(_SOURCE)
    return f"{role} file '{source}'" if source else f"the {role} table"


def _rows(frame: pd.DataFrame, positions: Sequence[int]) -> str:
    """The first rows at ``positions`` (0-based), as a user finds them: file data rows or index labels."""
    shown = list(positions[:_SHOWN])
    more = f" and {len(positions) - len(shown)} more" if len(positions) > len(shown) else ""
    if frame.attrs.get(_SOURCE):
        label = "data row" if len(positions) == 1 else "data rows"
        return f"{label} {', '.join(str(p + 1) for p in shown)}{more} (1-based, header excluded)"
    return f"index {', '.join(repr(frame.index[p]) for p in shown)}{more}"


def _cells(frame: pd.DataFrame, column: str, positions: Sequence[int]) -> str:
    values = frame[column].iloc[list(positions[:_SHOWN])].tolist()
    return ", ".join(repr(value) for value in values)


def _is_numeric(column: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def _non_numbers(column: pd.Series) -> tuple[pd.Series, list[int]]:
    """(the column as float64 with missing values as NaN, positions of non-missing cells that are not numbers)."""
    import pandas as pd

    if _is_numeric(column):
        return column.astype("float64"), []
    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64"), []
    as_numbers = pd.to_numeric(column, errors="coerce").astype("float64")
    bad = (as_numbers.isna() & column.notna()).to_numpy()
    return as_numbers, np.flatnonzero(bad).tolist()


def _category_strings(column: pd.Series) -> pd.Series:
    """Category labels as strings, so that ``1``, ``1.0`` and ``'1'`` are one category; missing stays missing."""

    def label(cell: Any) -> Any:
        if cell is None or (isinstance(cell, float) and math.isnan(cell)):
            return cell
        if isinstance(cell, (bool, np.bool_)):
            return str(bool(cell))
        if isinstance(cell, (int, np.integer)):
            return str(int(cell))
        if isinstance(cell, (float, np.floating)):
            return str(int(cell)) if float(cell).is_integer() else repr(float(cell))
        return str(cell)

    return column.astype(object).where(column.notna(), None).map(label, na_action="ignore")


# --------------------------------------------------------------------------------------------------
# the encoder
# --------------------------------------------------------------------------------------------------


class TableEncoder:
    """Encode tables as float64 tensors: fitted on the real table, applied unchanged to the synthetic one.

    Numeric columns come first (in the real table's order), then the one-hot blocks of the categorical
    columns (categories sorted, as scikit-learn's ``OneHotEncoder`` sorts them); :attr:`feature_names`
    names every output column (``"age"``, ``"job_nurse"``).

    Args:
        categorical: columns to one-hot encode whatever their dtype (e.g. integer codes). Columns whose dtype
            in the real table is not numeric (text, ``category``, ``bool``) are categorical in any case.
        exclude: columns to leave out of the encoding (identifiers, a target column).
        scale: numeric columns ``"none"`` (as they are), ``"standard"`` (real mean 0, standard deviation 1)
            or ``"minmax"`` (real range to [0, 1]). One-hot columns stay 0/1. A constant column is only
            shifted.
        unknown: a synthetic category the real table does not have: ``"error"`` or ``"ignore"`` (all-zero
            one-hot block).
        missing: a row with a missing value: ``"error"``, ``"drop"`` (the row is left out; :attr:`kept_rows`
            says which rows remain) or ``"impute"`` (the real table's median for numeric columns, its most
            frequent category for categorical ones).

    Raises:
        ValueError: on an option outside the listed ones.

    Example:
        >>> import pandas as pd
        >>> real = pd.DataFrame({"height": [1.6, 1.8, 1.7], "smoker": ["no", "yes", "no"]})
        >>> TableEncoder().fit(real).transform(pd.DataFrame({"height": [1.75], "smoker": ["yes"]}))
        tensor([[1.7500, 0.0000, 1.0000]], dtype=torch.float64)
    """

    def __init__(
        self,
        *,
        categorical: Iterable[str] = (),
        exclude: Iterable[str] = (),
        scale: str = "none",
        unknown: str = "error",
        missing: str = "error",
    ) -> None:
        for name, value, options in (
            ("scale", scale, SCALE_OPTIONS),
            ("unknown", unknown, UNKNOWN_OPTIONS),
            ("missing", missing, MISSING_OPTIONS),
        ):
            if value not in options:
                raise ValueError(f"Expected argument `{name}` to be one of {options}, but got {value!r}.")
        if isinstance(categorical, str) or isinstance(exclude, str):
            raise TypeError("Expected arguments `categorical` and `exclude` to be lists of column names, not a str.")
        self.categorical = [str(name) for name in categorical]
        self.exclude = [str(name) for name in exclude]
        self.scale = scale
        self.unknown = unknown
        self.missing = missing
        self._transformer: Any = None
        #: Columns of the real table, in order (after ``exclude``).
        self.columns: list[str] = []
        #: Numeric and categorical columns, each in the real table's order.
        self.numeric_columns: list[str] = []
        self.categorical_columns: list[str] = []
        #: Names of the encoded features (output columns).
        self.feature_names: list[str] = []
        #: Per table role: the 0-based positions of the rows that were encoded (all of them unless
        #: ``missing="drop"`` left some out).
        self.kept_rows: dict[str, list[int]] = {}

    # ------------------------------------------------------------------------------ fit

    def fit(self, real: str | Path | pd.DataFrame, *, role: str = "real") -> TableEncoder:
        """Learn the columns, categories and scaling from the real table (a DataFrame or a file path)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

        frame = read_table(real, role=role)
        where = _describe(frame, role)
        columns = self._columns(frame, where)
        for name in (*self.categorical, *self.exclude):
            if name not in map(str, frame.columns):
                raise TableError(
                    f"column {name!r} was declared {'categorical' if name in self.categorical else 'excluded'}, "
                    f"but {where} has no such column (columns: {columns})"
                )
        columns = [name for name in columns if name not in self.exclude]
        if not columns:
            raise TableError(f"{where} has no columns left to encode after excluding {self.exclude}")
        frame = frame.set_axis(list(map(str, frame.columns)), axis=1)
        declared = set(self.categorical)
        categorical = [name for name in columns if name in declared or not _is_numeric(frame[name])]
        for name in categorical:
            if name not in declared:
                self._check_not_numeric_with_stray_text(frame, name, where)
        self.columns = columns
        self.categorical_columns = categorical
        self.numeric_columns = [name for name in columns if name not in categorical]

        prepared = self._prepare(frame, role, where, fitting=True)
        numeric_steps: list[Any] = [SimpleImputer(strategy="median")] if self.missing == "impute" else []
        if self.scale == "standard":
            numeric_steps.append(StandardScaler())
        elif self.scale == "minmax":
            numeric_steps.append(MinMaxScaler())
        categorical_steps: list[Any] = [SimpleImputer(strategy="most_frequent")] if self.missing == "impute" else []
        categorical_steps.append(
            OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)  # unknowns checked first
        )
        transformers = []
        if self.numeric_columns:
            numeric = make_pipeline(*numeric_steps) if numeric_steps else "passthrough"
            transformers.append(("numeric", numeric, self.numeric_columns))
        if self.categorical_columns:
            transformers.append(("categorical", make_pipeline(*categorical_steps), self.categorical_columns))
        self._transformer = ColumnTransformer(transformers, verbose_feature_names_out=False)
        self._transformer.fit(prepared)
        self.feature_names = [str(name) for name in self._transformer.get_feature_names_out()]
        log.info(
            "%s: %d numeric and %d categorical columns -> %d features",
            where,
            len(self.numeric_columns),
            len(self.categorical_columns),
            len(self.feature_names),
        )
        return self

    def fit_transform(self, real: str | Path | pd.DataFrame, *, role: str = "real") -> Tensor:
        """:meth:`fit` on the real table, then :meth:`transform` it."""
        frame = read_table(real, role=role)
        return self.fit(frame, role=role).transform(frame, role=role)

    # ------------------------------------------------------------------------------ transform

    def transform(self, table: str | Path | pd.DataFrame, *, role: str = "synthetic") -> Tensor:
        """The ``(rows, len(feature_names))`` float64 tensor of a table with the real table's columns.

        Columns are matched by name (any order). Raises :class:`TableError` on a missing or extra column, a
        text cell in a numeric column, an infinite value, a missing value (``missing="error"``) or an unseen
        category (``unknown="error"``), naming the column, the table and the first offending rows.
        """
        if self._transformer is None:
            raise RuntimeError("This TableEncoder is not fitted yet: call `fit(real)` first.")
        frame = read_table(table, role=role)
        where = _describe(frame, role)
        columns = self._columns(frame, where)
        frame = frame.set_axis(columns, axis=1)
        expected = set(self.columns) | {name for name in self.exclude if name in columns}
        missing = [name for name in self.columns if name not in columns]
        extra = [name for name in columns if name not in expected]
        if missing or extra:
            parts = [f"missing: {missing}"] * bool(missing) + [f"not in the real table: {extra}"] * bool(extra)
            raise TableError(f"the columns of {where} do not match those of the real table ({'; '.join(parts)})")
        prepared = self._prepare(frame, role, where, fitting=False)
        encoded = self._transformer.transform(prepared)
        return torch.from_numpy(np.ascontiguousarray(encoded, dtype=np.float64))

    # ------------------------------------------------------------------------------ helpers

    @staticmethod
    def _columns(frame: pd.DataFrame, where: str) -> list[str]:
        columns = [str(name) for name in frame.columns]
        duplicates = sorted({name for name in columns if columns.count(name) > 1})
        if duplicates:
            raise TableError(f"{where} has duplicate column names: {duplicates}")
        return columns

    @staticmethod
    def _check_not_numeric_with_stray_text(frame: pd.DataFrame, name: str, where: str) -> None:
        """A column of numbers with a few text cells is a broken numeric column, not hundreds of categories."""
        present = frame[name].dropna()
        if present.empty:
            return
        _, bad = _non_numbers(present)
        if present.size - len(bad) >= _MOSTLY_NUMERIC * present.size and bad:
            positions = [frame.index.get_loc(label) for label in present.index[bad]]
            raise TableError(
                f"column {name!r} of {where} holds numbers and {len(bad)} text cells ({_rows(frame, positions)}: "
                f"{_cells(frame, name, positions)}); fix those cells, or declare the column categorical "
                "(categorical=[...]; --categorical on the command line)"
            )

    def _prepare(self, frame: pd.DataFrame, role: str, where: str, *, fitting: bool) -> pd.DataFrame:
        """The encoder's columns, checked: numbers in numeric columns, finite, missing values per ``missing``."""
        import pandas as pd

        prepared = pd.DataFrame(index=frame.index)
        for name in self.numeric_columns:
            values, bad = _non_numbers(frame[name])
            if bad:
                raise TableError(
                    f"column {name!r} is numeric in the real table but {where} holds text in it "
                    f"({_rows(frame, bad)}: {_cells(frame, name, bad)})"
                )
            infinite = np.flatnonzero(np.isinf(values.to_numpy())).tolist()
            if infinite:
                raise TableError(
                    f"column {name!r} of {where} holds infinite values ({_rows(frame, infinite)}: "
                    f"{_cells(frame, name, infinite)})"
                )
            prepared[name] = values
        for name in self.categorical_columns:
            prepared[name] = _category_strings(frame[name])

        absent = prepared.isna().to_numpy()
        if absent.any():
            positions = np.flatnonzero(absent.any(axis=1)).tolist()
            if self.missing == "error":
                columns = [name for name, hit in zip(prepared.columns, absent.any(axis=0), strict=True) if hit]
                raise TableError(
                    f"{where} has missing values in {len(positions)} of its {len(prepared)} rows "
                    f"({_rows(frame, positions)}; columns {columns}); remove them, or drop or impute them "
                    "(missing='drop' or 'impute'; --missing on the command line)"
                )
            if self.missing == "drop":
                log.info("%s: dropping %d of %d rows with missing values", where, len(positions), len(prepared))
                prepared = prepared.loc[~absent.any(axis=1)]
                if prepared.empty:
                    raise TableError(f"{where} has missing values in every row; nothing is left after dropping them")
            elif fitting:
                log.info("%s: imputing missing values in %d rows from the real table", where, len(positions))
                for name in prepared.columns[absent.all(axis=0)]:
                    raise TableError(f"column {name!r} of {where} is entirely missing; there is nothing to impute from")
            else:
                log.info("%s: imputing missing values in %d rows from the real table", where, len(positions))
        self.kept_rows[role] = [frame.index.get_loc(label) for label in prepared.index]

        if self.categorical_columns and not fitting and self.unknown == "error":
            for name, categories in zip(self.categorical_columns, self._categories(), strict=True):
                column = prepared[name]
                unseen = column.notna() & ~column.isin(categories)
                if unseen.any():
                    positions = [frame.index.get_loc(label) for label in prepared.index[unseen.to_numpy()]]
                    values = sorted(set(column[unseen].tolist()))
                    raise TableError(
                        f"column {name!r} of {where} holds categories the real table does not have "
                        f"({', '.join(map(repr, values[:_SHOWN]))}{' ...' if len(values) > _SHOWN else ''} in "
                        f"{_rows(frame, positions)}); fix them, or encode them as all zeros (unknown='ignore'; "
                        "--unknown-categories ignore on the command line)"
                    )
        return prepared

    def _categories(self) -> list[list[str]]:
        onehot = self._transformer.named_transformers_["categorical"][-1]
        return [list(categories) for categories in onehot.categories_]


# --------------------------------------------------------------------------------------------------
# conveniences
# --------------------------------------------------------------------------------------------------


def encode_tables(
    real: str | Path | pd.DataFrame, synthetic: str | Path | pd.DataFrame, **options: Any
) -> tuple[Tensor, Tensor, TableEncoder]:
    """Fit a :class:`TableEncoder` (``options``) on ``real`` and encode both tables: ``(real, synthetic, encoder)``.

    Example:
        >>> import pandas as pd
        >>> real = pd.DataFrame({"x": [0.0, 1.0, 2.0], "colour": ["red", "blue", "red"]})
        >>> synthetic = pd.DataFrame({"x": [0.5, 1.5], "colour": ["blue", "green"]})
        >>> real_x, synthetic_x, encoder = encode_tables(real, synthetic, unknown="ignore")
        >>> synthetic_x
        tensor([[0.5000, 1.0000, 0.0000],
                [1.5000, 0.0000, 0.0000]], dtype=torch.float64)
    """
    encoder = TableEncoder(**options)
    real_frame = read_table(real, role="real")
    encoder.fit(real_frame, role="real")
    return encoder.transform(real_frame, role="real"), encoder.transform(synthetic, role="synthetic"), encoder


def min_max_scale(real: Tensor, synthetic: Tensor) -> tuple[Tensor, Tensor]:
    """Scale every feature by the real set's range, as synthcity's ``evaluate()`` does (scikit-learn's
    ``MinMaxScaler`` fitted on ``real``): ``(x - min) / (max - min)``, a constant feature only shifted.

    Synthetic values outside the real range map outside [0, 1] (not clipped). Dtypes are kept.

    Example:
        >>> import torch
        >>> min_max_scale(torch.tensor([[0.0, 5.0], [2.0, 5.0]]), torch.tensor([[3.0, 6.0]]))
        (tensor([[0., 0.],
                [1., 0.]]), tensor([[1.5000, 1.0000]]))
    """
    from sklearn.preprocessing import MinMaxScaler

    # scikit-learn itself, in float64: the same arithmetic as synthcity, to the last bit.
    scaler = MinMaxScaler().fit(real.detach().cpu().to(torch.float64).numpy())

    def scaled(x: Tensor) -> Tensor:
        values = scaler.transform(x.detach().cpu().to(torch.float64).numpy())
        return torch.from_numpy(values).to(device=x.device, dtype=x.dtype)

    return scaled(real), scaled(synthetic)
