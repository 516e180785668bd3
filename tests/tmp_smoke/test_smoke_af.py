import airflow.providers.databricks

def test_x():
    import airflow
    assert airflow.__version__ == "3.3.1"
