"""Language: agreed texts, the shared glossary and the typed values they carry."""
