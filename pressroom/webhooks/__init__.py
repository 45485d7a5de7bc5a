"""Webhooks: a signed POST of the job view when a job reaches a terminal state.

``urls`` refuses callback URLs that reach private networks (at submission and
again at delivery), ``signing`` computes the HMAC signature, ``delivery`` runs
one attempt and records its outcome. The delivery row is written by
``JobOperations`` in the transaction that finishes the job (an outbox), so
a webhook survives a worker that dies right after completing the job.
"""
