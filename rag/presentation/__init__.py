"""How the library's records are worded for people and programs: one layer for the CLI, the page and MCP."""
