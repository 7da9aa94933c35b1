"""The room: the orchestration layer, on top. Its flows (room/flows/) are the decisions
that cross apps, each one function naming every effect in order; `RoomConfig.ready()`
connects them to the hooks where the lower apps' decisions go on. It may import every
package of the project; nothing imports it."""
