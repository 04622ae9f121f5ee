using System.Runtime.CompilerServices;
using Farm.Boards.Spec;

namespace Farm.Boards.Kinds;

/// <summary>
/// Farm's own board kinds, registered when the assembly loads: the registry (in <c>Boards.Spec</c>,
/// which the kinds use) then needs no reference to them, and a kind added elsewhere (a test) is
/// registered the same way. The order is the order lab-file messages list kinds and keys in.
/// </summary>
internal static class BuiltInBoardKinds
{
#pragma warning disable CA2255 // Farm is the application; its registry must be filled before the first lab file is read.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        BoardKinds.Register(Farm.Boards.Qemu.QemuKind.Entry);
        BoardKinds.Register(Farm.Boards.Physical.UBootKind.Entry);
    }
}
