"""Applications built on the library: whole tasks a verb of ``jetracer`` runs (the doctor, ...)."""
