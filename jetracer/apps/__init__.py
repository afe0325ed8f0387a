"""Applications: what a person runs on top of the library, never imported by it.

Simulator collection (:mod:`.collect`), closed-loop evaluation in the simulator (:mod:`.closed_loop`),
simulator pretraining (:mod:`.pretrain`), the end-to-end demo (:mod:`.demo`), the setup doctor
(:mod:`.doctor`, its checks in :mod:`.doctor_checks`) and every benchmark (:mod:`.bench`). The CLI's
verbs call them; they import the car, the simulator, the pilot and the workshop, and nothing below
imports them.
"""
