"""Everything around the worker that the worker never imports: the ``ampere`` CLI, the demo, the
benchmarks, the evaluation, the data simulator and the launchers of the local Kafka and Weaviate."""
