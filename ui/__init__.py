"""The chat face of the project: `ui.app.build_app(engine)` / `ui.app.launch(engine)`, and `rag chat`.
Kept import-light (gradio loads only when the app is built) so the `rag` command starts fast."""
