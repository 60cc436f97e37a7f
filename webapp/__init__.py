"""The chat page: a thin Gradio shell (page.py) over pure view functions (view.py)."""
