"""One module per decision that crosses apps. A flow runs inside the transaction of the
app where the decision started (it is connected to that app's hook in room/apps.py), so
everything it does commits or rolls back with the decision."""
