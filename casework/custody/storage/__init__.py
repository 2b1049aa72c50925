"""Where the custody log is stored, one module per database (as Tessera's ``storage/``).

Each module appends to the intake queue (``record``), integrates a batch of it into the tree
(``integrate``) and stores checkpoints and cosignatures; ``casework.custody.log`` chooses by the
connection's dialect. Nothing here signs: the signer trusts none of it (``publication``).
"""
