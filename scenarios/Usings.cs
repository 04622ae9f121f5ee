namespace Farm.Scenarios;
