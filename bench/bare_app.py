"""The bare framework: FastAPI answering a constant, served the same way as the service."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
async def constant() -> dict[str, bool]:
    return {"ok": True}
