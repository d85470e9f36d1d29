package import DurinStore

/// Every script of the migrations and imports (the store's are `Script.all`).
package enum MigrationScripts {
    package static let all: [Script] = [
        MigrateTokenScript.script, MigrateTombstoneScript.script, MoveTokenScript.script, SessionFloorScript.script,
        ImportClientScript.script, ImportUserScript.script, ImportTokenScript.script, MovePasswordScript.script, ResealTokenScript.script,
    ]
}
