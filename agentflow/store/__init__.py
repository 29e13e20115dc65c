"""Everything a run leaves on disk: the state folder, run folders, the run history."""
