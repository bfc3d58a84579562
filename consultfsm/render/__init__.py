"""Pictures and pages derived from the table and the cases.

``diagram`` (DOT, Mermaid, sequence diagrams) and ``docgen`` (the generated
sections of docs/) are pure: text in, text out. ``files`` is the only module
that runs Graphviz's ``dot`` or touches the file system.
"""
