"""schemakit: a small schema and validation library of the held-out corpus (batch 33):
validators compiled per schema and cached, model classes made from schemas, and
validation errors collected per field."""
