using Farm.Serial;

namespace Farm.Consoles;

/// <summary><c>transport: tty</c> (or just <c>device:</c>): a local serial device, a USB-UART's /dev/ttyUSB0, at its line settings.</summary>
internal sealed record TtyConsole(string Device, SerialSettings Line) : ConsoleSpec
{
    static readonly Dictionary<string, Parity> Parities = new() { ["none"] = Parity.None, ["even"] = Parity.Even, ["odd"] = Parity.Odd };
    static readonly Dictionary<string, FlowControl> Flows = new() { ["none"] = FlowControl.None, ["rtscts"] = FlowControl.RtsCts, ["xonxoff"] = FlowControl.XonXoff };

    internal static readonly ConsoleTransportEntry Entry = new("tty", ["device", "baud", "data-bits", "parity", "stop-bits", "flow"], f =>
    {
        var all = f.Require("device");
        var d = SerialSettings.Default;
        var line = new SerialSettings(f.Integer("baud", min: 50) ?? d.Baud, f.Integer("data-bits", min: 5) ?? d.DataBits,
            f.Choice("parity", Parities) ?? d.Parity, f.Integer("stop-bits", min: 1) ?? d.StopBits, f.Choice("flow", Flows) ?? d.Flow);
        if (line.Problem() is { } problem) f.Report(f.Mapping.Has("baud") ? "baud" : "device", problem);
        return all && f.Text("device") is { } device ? new TtyConsole(device, line) : null;
    }, new ConsoleShorthand("device", "a local tty"));

    public override string Transport => "tty";

    public override string Summary => $"{Device} {Line}";

    internal override Task<Stream> OpenAsync(CancellationToken ct) => Task.FromResult<Stream>(TtyStream.Open(Device, Line));

    /// <summary>Only whether the device is there: opening it would set its line and take it from whoever holds it.</summary>
    internal override Task<string> ProbeAsync(CancellationToken ct) =>
        File.Exists(Device) ? Task.FromResult("device present") : throw new InfrastructureException($"{Device} missing");
}
