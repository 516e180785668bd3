"""Workspace, DBFS and Files API calls as databricks-sdk makes them, answered as Databricks
answers them; an API the emulator does not implement is refused as such, not as a missing
object."""

from __future__ import annotations

import io
import os

import pytest
from conftest import ensure_volume, upload_notebook
from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language
from emulator.contract_client import call


def test_a_files_api_upload_overwrites_unless_told_not_to(client):
    path = ensure_volume(client, "main", "default", "contract_files") + "/data.csv"
    client.files.upload(path, io.BytesIO(b"first"))
    client.files.upload(path, io.BytesIO(b"second"))  # "If true or unspecified ... overwritten"
    assert client.files.download(path).contents.read() == b"second"
    with pytest.raises(DatabricksError) as refused:
        client.files.upload(path, io.BytesIO(b"third"), overwrite=False)
    assert refused.value.error_code == "ALREADY_EXISTS"
    assert client.files.download(path).contents.read() == b"second"


def test_workspace_download_returns_the_file_itself(client):
    source = b"# Databricks notebook source\nprint('hello')\n"
    client.workspace.upload("/Users/dev/contract/hello", source, format=ImportFormat.SOURCE,
                            language=Language.PYTHON, overwrite=True)
    client.workspace.upload("/Users/dev/contract/notes.txt", b"plain text",
                            format=ImportFormat.AUTO, overwrite=True)
    with client.workspace.download("/Users/dev/contract/hello") as notebook:
        assert notebook.read() == source
    with client.workspace.download("/Users/dev/contract/notes.txt") as notes:
        assert notes.read() == b"plain text"
    exported = client.workspace.export("/Users/dev/contract/hello", format=ExportFormat.SOURCE)
    assert exported.file_type == "py"


def test_workspace_list_of_a_notebook_lists_the_notebook(client):
    upload_notebook(client, "/Users/dev/contract/listed", "pass\n")
    (listed,) = client.workspace.list("/Users/dev/contract/listed")
    assert listed.path == "/Users/dev/contract/listed"
    assert listed.object_type.value == "NOTEBOOK"


def test_dbfs_streams_files_over_one_block_and_reads_them_back(emulator, client):
    data = os.urandom(2 * 1024 * 1024 + 123)  # three add-block calls
    client.dbfs.upload("dbfs:/tmp/contract/big.bin", io.BytesIO(data), overwrite=True)
    with client.dbfs.download("dbfs:/tmp/contract/big.bin") as downloaded:
        assert downloaded.read() == data
    listed = {f.path: f.file_size for f in client.dbfs.list("dbfs:/tmp/contract")}
    assert listed == {"/tmp/contract/big.bin": len(data)}
    with pytest.raises(DatabricksError) as exists:
        client.dbfs.upload("dbfs:/tmp/contract/big.bin", io.BytesIO(b"x"), overwrite=False)
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"

    too_long = call(emulator, "GET", "/api/2.0/dbfs/read",
                    {"path": "/tmp/contract/big.bin", "length": 1024 * 1024 + 1})
    assert (too_long.status_code, too_long.json()["error_code"]) == (400, "MAX_READ_SIZE_EXCEEDED")
    unknown = call(emulator, "POST", "/api/2.0/dbfs/add-block", {"handle": 7, "data": "eA=="})
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_an_unimplemented_databricks_api_is_refused_not_reported_missing(emulator, client):
    with pytest.raises(DatabricksError) as refused:
        client.tables.get("main.default.orders")
    assert not isinstance(refused.value, NotFound)  # a caller would take the table for missing
    assert refused.value.error_code == "NOT_IMPLEMENTED"
    answer = call(emulator, "GET", "/api/2.1/unity-catalog/tables/main.default.orders")
    assert answer.status_code == 501
    assert "does not implement" in answer.json()["message"]
    unknown = call(emulator, "GET", "/api/2.0/no-such-api")
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
