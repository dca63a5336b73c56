"""Force-field track: teacher-labelled distill sets, evaluation plots, MD stability, export
and the ASE calculator of exported models."""
