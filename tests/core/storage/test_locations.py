"""A location is parsed once, and a wrong one is refused naming the URI and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from housing_core.storage import Format, Location, LocationError, Scheme


@pytest.mark.parametrize(
    ("uri", "scheme", "format", "path", "bucket"),
    [
        ("data/housing.csv", Scheme.FILE, Format.CSV, str(Path("data/housing.csv").resolve()), ""),
        ("/tmp/out.parquet", Scheme.FILE, Format.PARQUET, "/tmp/out.parquet", ""),
        ("file:///tmp/a%20b/x.CSV.GZ", Scheme.FILE, Format.CSV_GZ, "/tmp/a b/x.CSV.GZ", ""),
        ("/tmp/out/", Scheme.FILE, Format.FOLDER, "/tmp/out", ""),
        (
            "https://h.example/d/x.csv?v=2#top",
            Scheme.HTTP,
            Format.CSV,
            "https://h.example/d/x.csv?v=2",
            "",
        ),
        ("s3://bkt/runs/out.parquet", Scheme.S3, Format.PARQUET, "runs/out.parquet", "bkt"),
        ("s3://bkt/runs/out/", Scheme.S3, Format.FOLDER, "runs/out/", "bkt"),
    ],
)
def test_each_kind_of_location_is_parsed(
    uri: str, scheme: Scheme, format: Format, path: str, bucket: str
) -> None:
    location = Location.parse(uri)

    assert (location.scheme, location.format, location.path, location.bucket) == (
        scheme,
        format,
        path,
        bucket,
    )
    assert location.uri == uri


def test_a_folder_names_its_children_in_its_own_scheme() -> None:
    assert Location.parse("s3://b/out/").child("_manifest.json").path == "out/_manifest.json"
    assert Location.parse("http://h/out/").child("_runs/r/p.parquet").path == (
        "http://h/out/_runs/r/p.parquet"
    )
    assert Location.parse("/tmp/out/").child("_manifest.json").path == "/tmp/out/_manifest.json"


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("ftp://host/x.csv", "unknown scheme 'ftp'"),
        ("/tmp/report.xlsx", "unknown format of 'report.xlsx'"),
        ("s3://bucket", "without a key"),
        ("s3:///key.csv", "without a bucket"),
        ("file://elsewhere/x.csv", "on another host"),
        ("", "empty location"),
    ],
)
def test_a_wrong_location_is_refused_naming_it_and_the_problem(uri: str, problem: str) -> None:
    with pytest.raises(LocationError) as caught:
        Location.parse(uri)

    assert problem in str(caught.value)
    assert uri in str(caught.value) or uri == ""
    assert not caught.value.retryable
    assert isinstance(caught.value, ValueError)


def test_any_file_name_parses_when_no_table_format_is_needed() -> None:
    assert Location.parse("s3://b/model.json", strict=False).format is Format.OTHER
