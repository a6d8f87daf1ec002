"""The editable data-construction pipeline: recipe.yaml -> train.csv rows.  See build.py."""
