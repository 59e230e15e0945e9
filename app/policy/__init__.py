"""Keys with policies: what a key may do (model.py), who a presented key is (keys.py), the limits
checked before a turn starts (limits.py), and the usage recorded after it ends (usage.py)."""
