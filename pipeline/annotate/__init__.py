"""The annotators' loop through Label Studio: labeling config, tasks with predictions, gold import, agreement.

    config.py   the labeling config (XML), generated from pipeline.labels
    tasks.py    pipeline output -> Label Studio tasks with predictions
    gold.py     a Label Studio JSON export -> gold documents (CONTRACT.md), strictly validated
    agree.py    inter-annotator agreement between two exports or gold files
    server.py   start and drive a local Label Studio server over REST (tests, scripts/label_studio.py)
    ml_backend.py  the model as a Label Studio ML backend (`vipie annotate serve-model`)

Nothing here imports Label Studio: it runs in its own virtual environment
(`make label-studio`), because its pins clash with ours, and is reached over HTTP.
"""
