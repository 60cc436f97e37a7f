"""The corpus as tools for AI assistants, over the Model Context Protocol.

``tools.make_server(index)`` registers four read-only tools on an MCP server (``ask``,
``search``, ``cite``, ``support``); ``rag mcp`` serves them over stdio (desktop
assistants) and ``python app.py --mcp`` over streamable HTTP at ``/mcp`` beside the
chat page. Every tool returns citations with document ids, offsets into the original
file and the verbatim quote, so an assistant can quote the archive verifiably.
"""
